"""Contacts: create, read, change, erase, consents, marketing eligibility, unsubscribe links.

Invariant kept here: no contact's current e-mail is on the suppression list (create,
import and e-mail changes refuse suppressed addresses; unsubscribe and erasure delete
the contact when they suppress it).
"""
from __future__ import annotations

import base64
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from privacy_saas import audit, clock
from privacy_saas.audit.service import current_actor
from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts.models import CONSENT_PURPOSES, LAWFUL_BASES, SOURCES, Contact, ConsentEvent
from privacy_saas.controller.contacts.validation import clean_email
from privacy_saas.controller.records import service as records
from privacy_saas.controller.records.models import WebsiteActivity
from privacy_saas.controller.suppression import service as suppression
from privacy_saas.controller.suppression.models import Suppression
from privacy_saas.crypto.errors import CryptoError
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, keyring
from privacy_saas.errors import AppError, Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.links import external_url

log = logging.getLogger(__name__)

SCOPE = "controller"
#: Bases under which the vendor may send marketing at all; contract and legal
#: obligation cover what the contract or the law needs, never promotion.
MARKETING_BASES = ("consent", "legitimate_interest")
_PERSONAL = ("email", "name", "phone", "job_title")
_PLAIN = ("company", "source", "lawful_basis", "is_customer_contact", "do_not_contact", "restricted",
          "last_successful_contact_at")
_UNSUBSCRIBE_SALT = "privacy_saas.controller.unsubscribe"


class Suppressed(Conflict):
    """The e-mail address is on the suppression list."""

    code = "suppressed"


# -- reading ----------------------------------------------------------------------------------

def email_index(email: str) -> bytes:
    """Return the blind index of an e-mail address among contacts."""
    return keyring().email_index(CONTROLLER_SCOPE, email)


def get(contact_id) -> Contact:
    """Return the contact with `contact_id`, or raise NotFound."""
    contact = db.session.get(Contact, contact_id, options=[selectinload(Contact.consents)])
    if contact is None:
        raise NotFound("no such contact")
    return contact


def index_matches(contact: Contact) -> bool:
    """Return whether the contact's stored e-mail index is that of its decrypted e-mail.

    A contact found by index is only returned when it holds the address searched for: an index value
    copied or swapped between rows in the database would otherwise hand out another person's record.
    """
    try:
        if email_index(contact.email) == contact.email_bidx:
            return True
    except CryptoError:
        return False
    log.error("contact %s: its e-mail index is not its e-mail's (changed in the database?)", contact.id)
    return False


def find_by_email(email: str) -> Contact | None:
    """Return the contact with this e-mail address, if any (by blind index, confirmed on the decrypted value)."""
    try:
        bidx = email_index(email)
    except CryptoError:
        return None
    contact = db.session.scalar(sa.select(Contact).where(Contact.email_bidx == bidx))
    return contact if contact is None or index_matches(contact) else None


def list_contacts(*, page: int = 1, page_size: int = 50, source: str | None = None,
                  lawful_basis: str | None = None, email: str | None = None,
                  do_not_contact: bool | None = None, is_customer_contact: bool | None = None
                  ) -> tuple[list[Contact], int]:
    """Return one page of contacts, newest first, and the total matching."""
    query = sa.select(Contact)
    if source:
        query = query.where(Contact.source == source)
    if lawful_basis:
        query = query.where(Contact.lawful_basis == lawful_basis)
    if do_not_contact is not None:
        query = query.where(Contact.do_not_contact.is_(do_not_contact))
    if is_customer_contact is not None:
        query = query.where(Contact.is_customer_contact.is_(is_customer_contact))
    if email:
        try:
            query = query.where(Contact.email_bidx == email_index(email))
        except CryptoError:
            return [], 0
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.options(selectinload(Contact.consents))
        .order_by(Contact.created_at.desc(), Contact.id.desc())
        .limit(page_size).offset((page - 1) * page_size)).all()
    if email and not all(index_matches(contact) for contact in rows):
        return [], 0  # the index is unique: the only row found is not the address
    return list(rows), total


def readable(contact: Contact) -> dict | None:
    """Return the decrypted personal fields, or None when they cannot be read (destroyed key, tampering)."""
    try:
        return {name: getattr(contact, name) for name in _PERSONAL}
    except CryptoError as exc:
        log.error("contact %s cannot be decrypted: %s", contact.id, type(exc).__name__)
        return None


def audit_read(contacts: list[Contact], action: str = "contact.read") -> None:
    """Record that a staff member saw decrypted contact details."""
    audit.record(action, scope=SCOPE, targets=[c.id for c in contacts][:50], detail={"count": len(contacts)})


def export_subject(contact: Contact) -> dict:
    """Return everything held about a contact (access and portability requests), as plain JSON data."""
    def when(value):
        return value.isoformat() if value is not None else None

    activity = db.session.scalars(sa.select(WebsiteActivity).where(WebsiteActivity.contact_id == contact.id)
                                  .order_by(WebsiteActivity.occurred_at)).all()
    audit.record("contact.export", scope=SCOPE, targets=[contact.id], detail={"activity": len(activity)})
    return {
        "contact": {**{name: getattr(contact, name) for name in _PERSONAL}, "company": contact.company,
                    "source": contact.source, "lawful_basis": contact.lawful_basis,
                    "collected_at": when(contact.created_at), "last_reviewed_at": when(contact.last_reviewed_at),
                    "last_successful_contact_at": when(contact.last_successful_contact_at),
                    "is_customer_contact": contact.is_customer_contact, "do_not_contact": contact.do_not_contact,
                    "restricted": contact.restricted},
        "consents": [{"purpose": e.purpose, "action": e.action, "at": when(e.at), "evidence": e.evidence}
                     for e in sorted(contact.consents, key=lambda e: (e.at, e.id))],
        "website_activity": [{"kind": a.kind, "path": a.path, "occurred_at": when(a.occurred_at)}
                             for a in activity],
    }


# -- writing ----------------------------------------------------------------------------------

def _refuse_suppressed(email: str) -> None:
    hash_ = suppression.email_hash(email)
    entry = db.session.scalar(sa.select(Suppression).where(Suppression.email_hash == hash_))
    if entry is not None:
        raise Suppressed(
            f"this e-mail address is on the suppression list ({entry.reason} on "
            f"{entry.created_at:%Y-%m-%d}); it may not be added again",
            errors={"email": ["on the suppression list"]})


def _check(data: dict, *, creating: bool) -> None:
    # The API schema checks this already; other callers (CLI, rights, tests) get the same rules.
    errors = {}
    if creating or data.get("email") is not None:
        try:
            clean_email(data.get("email") or "")
        except ValueError as exc:
            errors["email"] = [str(exc)]
    for name, allowed in (("source", SOURCES), ("lawful_basis", LAWFUL_BASES)):
        if name in data and data[name] not in allowed:
            errors[name] = [f"must be one of {', '.join(allowed)}"]
    if errors:
        raise AppError("the contact is invalid", code="invalid_input", errors=errors)


def create(data: dict) -> Contact:
    """Create a contact from validated data; refuse suppressed and duplicate addresses."""
    _check(data, creating=True)
    ensure_ready()
    email = data["email"]
    _refuse_suppressed(email)
    bidx = email_index(email)
    existing = db.session.scalar(sa.select(Contact.id).where(Contact.email_bidx == bidx))
    if existing is not None:
        raise Conflict("a contact with this e-mail address exists", code="contact_exists",
                       errors={"email": [f"already contact {existing}"]})
    contact = Contact(email_bidx=bidx, **{k: data.get(k) for k in _PERSONAL},
                      **{k: v for k, v in data.items() if k in _PLAIN and v is not None})
    db.session.add(contact)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("a contact with this e-mail address exists", code="contact_exists") from None
    audit.record("contact.create", scope=SCOPE, targets=[contact.id],
                 detail={"source": contact.source, "lawful_basis": contact.lawful_basis})
    return contact


def update(contact: Contact, changes: dict) -> Contact:
    """Apply validated changes; `reviewed=True` re-confirms the contact (restarts the 5-year clock)."""
    changed = []
    _check(changes, creating=False)
    if changes.get("email") is not None and changes["email"] != contact.email:
        ensure_ready()
        _refuse_suppressed(changes["email"])
        bidx = email_index(changes["email"])
        other = db.session.scalar(sa.select(Contact.id).where(Contact.email_bidx == bidx, Contact.id != contact.id))
        if other is not None:
            raise Conflict("another contact has this e-mail address", code="contact_exists")
        contact.email_bidx, contact.email = bidx, changes["email"]
        changed.append("email")
    for name in ("name", "phone", "job_title"):
        if name in changes and changes[name] != getattr(contact, name):
            setattr(contact, name, changes[name])
            changed.append(name)
    for name in _PLAIN:
        if name in changes and changes[name] != getattr(contact, name):
            setattr(contact, name, changes[name])
            changed.append(name)
    if changes.get("reviewed"):
        contact.last_reviewed_at = clock.now()
        changed.append("last_reviewed_at")
    db.session.flush()
    audit.record("contact.update", scope=SCOPE, targets=[contact.id], detail={"fields": sorted(changed)})
    return contact


def _delete(contact: Contact) -> None:
    records.detach_contact(contact.id, erase=True)
    db.session.delete(contact)
    db.session.flush()


def _address(email: str) -> str:
    try:
        return clean_email(email)
    except ValueError as exc:
        raise AppError("the request is invalid", code="invalid_input", errors={"email": [str(exc)]}) from None


def look_up_suppression(email: str) -> Suppression | None:
    """Return the suppression list's entry for an address, if any: found by its keyed hash; audited, without it."""
    ensure_ready()
    suppression.check_key()
    entry = db.session.scalar(sa.select(Suppression).where(
        Suppression.email_hash == suppression.email_hash(_address(email))))
    audit.record("suppression.lookup", scope=SCOPE, targets=[entry.id] if entry else [],
                 detail={"found": entry is not None})
    return entry


#: Why staff put an address on the list by hand (an erasure goes through the contact or a request).
MANUAL_REASONS = ("unsubscribe", "objection")


def suppress_address(email: str, reason: str) -> Suppression:
    """Put an address on the suppression list by hand (an unsubscribe or objection received by mail or phone).

    Only its keyed hash is kept. An address a contact still holds is refused: recording the objection on
    the contact (or erasing it) keeps its log straight.
    """
    if reason not in MANUAL_REASONS:
        raise AppError("the request is invalid", code="invalid_input",
                       errors={"reason": [f"must be one of {', '.join(MANUAL_REASONS)}"]})
    ensure_ready()
    suppression.check_key()
    email = _address(email)
    contact = find_by_email(email)
    if contact is not None:
        raise Conflict("a contact holds this address: record the objection on the contact, or erase it",
                       code="contact_exists", errors={"contact_id": [str(contact.id)]})
    already = suppression.suppressed([suppression.email_hash(email)])
    entry = suppression.add(suppression.email_hash(email), reason)
    audit.record("suppression.add", scope=SCOPE, targets=[entry.id],
                 detail={"reason": entry.reason, "already": bool(already)})
    return entry


def erase(contact: Contact, reason: str = "erasure") -> bool:
    """Delete the contact and everything linked to it, keeping only the e-mail's suppression hash.

    Returns whether the address could be suppressed (not when its ciphertext is unreadable).
    """
    ensure_ready()
    contact_id = contact.id
    try:
        hash_ = suppression.email_hash(contact.email)
    except CryptoError:
        hash_ = None
        log.error("contact %s erased without suppression: its e-mail cannot be decrypted", contact_id)
    if hash_ is not None:
        suppression.add(hash_, reason)
    _delete(contact)
    audit.record(f"contact.{reason}", scope=SCOPE, targets=[contact_id], detail={"suppressed": hash_ is not None})
    return hash_ is not None


def record_consent(contact: Contact, purpose: str, action: str, evidence: str,
                   at: datetime | None = None, recorded_by: str | None = None) -> ConsentEvent:
    """Append a consent grant or withdrawal for one purpose."""
    if purpose not in CONSENT_PURPOSES:
        raise AppError(f"unknown consent purpose {purpose!r}", code="invalid_input",
                       errors={"purpose": [f"must be one of {', '.join(CONSENT_PURPOSES)}"]})
    now = clock.now()
    at = at or now
    if at > now:
        raise AppError("consent cannot be recorded in the future", code="invalid_input",
                       errors={"at": ["is in the future"]})
    if recorded_by is None:
        kind, actor_id = current_actor()
        recorded_by = f"{kind}:{actor_id}" if actor_id else kind
    event = ConsentEvent(contact_id=contact.id, purpose=purpose, action=action, at=at,
                         evidence=evidence, recorded_by=recorded_by, recorded_at=now)
    contact.consents.append(event)
    db.session.flush()
    audit.record(f"consent.{action}", scope=SCOPE, targets=[contact.id, event.id], detail={"purpose": purpose})
    return event


def record_successful_contact(contact: Contact, at: datetime | None = None) -> None:
    """Note evidence of a successful contact (e.g. a delivered e-mail); restarts the 3-year clock."""
    at = at or clock.now()
    if contact.last_successful_contact_at is None or at > contact.last_successful_contact_at:
        contact.last_successful_contact_at = at
        db.session.flush()


# -- marketing eligibility --------------------------------------------------------------------

@dataclass(frozen=True)
class Eligibility:
    """Whether a contact may receive marketing for one purpose, and why (a code)."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def marketing_eligibility(contact: Contact, purpose: str = "marketing_email") -> Eligibility:
    """Decide whether `contact` may be sent marketing for `purpose`.

    Needs a basis covering marketing, and a live consent where the basis is consent; a
    withdrawal under legitimate interest is an objection (Art. 21(3)) and stops it too.
    """
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    if contact.do_not_contact:
        return Eligibility(False, "do_not_contact")
    if contact.restricted:
        return Eligibility(False, "restricted")
    if contact.lawful_basis not in MARKETING_BASES:
        return Eligibility(False, f"basis_{contact.lawful_basis}_does_not_cover_marketing")
    latest = contact.latest_consents().get(purpose)
    if contact.lawful_basis == "consent":
        if latest is None:
            return Eligibility(False, "no_consent")
        if latest.action != "granted":
            return Eligibility(False, "consent_withdrawn")
        return Eligibility(True, "consent")
    if latest is not None and latest.action == "withdrawn":
        return Eligibility(False, "objected")
    return Eligibility(True, "legitimate_interest")


def marketable(contacts, purpose: str = "marketing_email") -> list[Contact]:
    """Return the contacts that may receive marketing for `purpose`."""
    return [c for c in contacts if marketing_eligibility(c, purpose)]


# -- unsubscribe links ------------------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    config = current_app.config
    # itsdangerous signs with the last key and accepts all, so SECRET_KEY rotation keeps old links working.
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]
    return URLSafeSerializer(keys, salt=_UNSUBSCRIBE_SALT)


def unsubscribe_token(contact: Contact) -> str:
    """Return the token of a contact's unsubscribe link (bound to its id and current e-mail)."""
    hash_ = suppression.email_hash(contact.email)
    return _serializer().dumps([str(contact.id), base64.urlsafe_b64encode(hash_).decode().rstrip("=")])


def unsubscribe_url(contact: Contact) -> str:
    """Return the contact's unsubscribe link, for the mails sent to it (List-Unsubscribe and the footer)."""
    return external_url("unsubscribe.confirm", token=unsubscribe_token(contact))


@dataclass
class UnsubscribeTarget:
    """What an unsubscribe token points at."""

    contact_id: uuid.UUID
    email_hash: bytes
    contact: Contact | None
    already_suppressed: bool


class InvalidLink(AppError):
    status = 400
    code = "invalid_link"


def resolve_unsubscribe(token: str) -> UnsubscribeTarget:
    """Check a token's signature and find what it points at; raise InvalidLink."""
    try:
        contact_id, encoded = _serializer().loads(token)
        contact_id = uuid.UUID(contact_id)
        hash_ = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (BadSignature, ValueError, TypeError):
        raise InvalidLink("this unsubscribe link is not valid") from None
    contact = db.session.get(Contact, contact_id)
    if contact is not None:
        try:
            if suppression.email_hash(contact.email) != hash_:
                # The contact's address changed since the mail was sent: only the old address is bound.
                contact = None
        except CryptoError:
            contact = None
    return UnsubscribeTarget(contact_id, hash_, contact, bool(suppression.suppressed([hash_])))


def unsubscribe(token: str) -> UnsubscribeTarget:
    """Suppress the token's address and delete its contact (idempotent)."""
    target = resolve_unsubscribe(token)
    ensure_ready()
    suppression.add(target.email_hash, "unsubscribe")
    if target.contact is not None:
        _delete(target.contact)
    audit.record("contact.unsubscribe", scope=SCOPE, targets=[target.contact_id], actor=("subject", None),
                 detail={"contact_deleted": target.contact is not None, "repeat": target.already_suppressed})
    return target
