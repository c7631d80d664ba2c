"""Staff accounts: create, authenticate with lockout, look up."""
from __future__ import annotations

import logging

import sqlalchemy as sa

from privacy_saas import audit
from privacy_saas.auth import lockout
from privacy_saas.auth.models import STAFF_ROLES, Staff
from privacy_saas.auth.passwords import hash_password
from privacy_saas.errors import AppError, Conflict, NotFound
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12


def get_staff(staff_id) -> Staff:
    """Return the staff member with `staff_id`, or raise NotFound."""
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise NotFound("no such staff member")
    return staff


def find_staff(email: str) -> Staff | None:
    """Return the staff member signing in as `email`, if any."""
    return db.session.scalar(sa.select(Staff).where(Staff.email == email.strip().lower()))


def active_staff(roles) -> list[Staff]:
    """Return the active staff members holding one of `roles` (e.g. whom to alert)."""
    return list(db.session.scalars(sa.select(Staff).where(Staff.active.is_(True), Staff.role.in_(tuple(roles)))
                                   .order_by(Staff.created_at)))


def create_staff(email: str, role: str, password: str) -> Staff:
    """Create a staff account."""
    email = email.strip().lower()
    if role not in STAFF_ROLES:
        raise AppError(f"role must be one of {', '.join(STAFF_ROLES)}", code="invalid_role")
    if "@" not in email or len(email) > 254:
        raise AppError("not a valid e-mail address", code="invalid_email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AppError(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                       code="weak_password")
    if find_staff(email):
        raise Conflict("a staff member with this e-mail exists", code="staff_exists")
    staff = Staff(email=email, role=role, password_hash=hash_password(password))
    db.session.add(staff)
    db.session.flush()
    log.info("staff %s created with role %s", staff.id, role)
    return staff


def authenticate(email: str, password: str) -> Staff | None:
    """Return the staff member if the password is right and the account is usable.

    Every attempt is audited on the platform chain by staff id; the typed e-mail never is.
    """
    staff = find_staff(email)
    actor = ("staff", staff.id) if staff is not None else ("anonymous", None)
    targets = [staff.id] if staff is not None else []

    def failed(reason: str, **detail) -> None:
        audit.record("staff.login", targets=targets, outcome="failed", actor=actor,
                     detail={"reason": reason, **detail})

    if not lockout.check_password(staff, password, failed):
        return None
    if not staff.active:
        failed("disabled")
        return None
    lockout.signed_in(staff)
    audit.record("staff.login", targets=[staff.id], actor=actor)
    return staff
