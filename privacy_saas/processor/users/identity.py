"""A registered user's identity values: the blind indexes of userName, e-mails and external id, the product's
e-mail among a user's e-mails, and the checks that a row found by an index holds the value searched.

Nothing here looks a user up (users.service does): these are the pieces every look-up and write shares.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa

from privacy_saas.crypto.blind_index import normalise_email
from privacy_saas.crypto.errors import CryptoError
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.db import new_id
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users.models import RegisteredUser, RegisteredUserEmail
from privacy_saas.processor.users.validation import is_address

log = logging.getLogger(__name__)

#: Domain separation of the external id's keyed hash from the tenant's other keyed hashes (migration 0019).
_EXTERNAL_ID_PREFIX = "scim:externalId:"


def email_index(tenant: Tenant, email: str) -> bytes:
    """Return the blind index of `email` (or of a userName: both compare case-insensitively) in the tenant's scope."""
    return keyring().email_index(tenant_scope(tenant.id), email)


def external_id_index(tenant: Tenant, external_id: str) -> bytes:
    """Return the blind index of an identity provider's id (case-exact, as SCIM's externalId)."""
    return keyring().keyed_hash(tenant_scope(tenant.id), _EXTERNAL_ID_PREFIX + external_id)[:16]


def contact_email(user_name: str | None, emails: list[dict] | None) -> str | None:
    """Return the product's e-mail of a user: the primary e-mail, else the work one, else the userName when it
    is an address, else the first e-mail.

    Only addresses count: an identity provider may send other text as an e-mail value (it is stored and
    returned as sent), and the product must never write to it.
    """
    emails = [e for e in emails or () if is_address(e.get("value"))]
    for wanted in (lambda e: e.get("primary") is True, lambda e: str(e.get("type") or "").lower() == "work"):
        found = next((e["value"] for e in emails if wanted(e)), None)
        if found is not None:
            return found
    if is_address(user_name):
        return user_name
    return emails[0]["value"] if emails else None


def index_matches(user: RegisteredUser) -> bool:
    """Return whether the user's stored indexes (e-mail, userName, external id) are those of its decrypted values.

    A row found by index is only returned when it holds the value searched for: an index value
    copied or swapped between rows in the database would otherwise hand out another person's account.
    """
    ring, scope = keyring(), tenant_scope(user.tenant_id)
    try:
        expected = (
            (user.email_bidx, ring.email_index(scope, user.email) if user.email is not None else None),
            (user.user_name_bidx, ring.email_index(scope, user.user_name) if user.user_name is not None else None),
            (user.external_id_bidx, ring.keyed_hash(scope, _EXTERNAL_ID_PREFIX + user.external_id)[:16]
             if user.external_id is not None else None),
        )
    except CryptoError:
        return False
    if all(stored == computed for stored, computed in expected):
        return True
    log.error("user %s of tenant %s: its indexes are not its values' (changed in the database?)",
              user.id, user.tenant_id)
    return False


def holds_email(user: RegisteredUser, email: str) -> bool:
    """Return whether `email` is one of the user's e-mails or their userName (decrypted, compared normalised)."""
    wanted = normalise_email(email)
    try:
        values = [user.email, user.user_name, *(e.get("value") for e in user.emails or ())]
    except CryptoError:
        return False
    return any(v is not None and normalise_email(v) == wanted for v in values)


def set_emails(tenant: Tenant, user: RegisteredUser, emails: list[dict], *, new: bool) -> None:
    """Store the e-mail list sealed and rewrite its blind indexes (the row must be flushed).

    A new user was given its list when built (setting it again would cost an UPDATE of the new row).
    """
    if not new:
        user.emails = emails or None
        db.session.execute(sa.delete(RegisteredUserEmail).where(
            RegisteredUserEmail.tenant_id == tenant.id, RegisteredUserEmail.user_id == user.id))
    rows = [{"tenant_id": tenant.id, "id": new_id(), "user_id": user.id, "value_bidx": email_index(tenant, e["value"]),
             "type": str(e["type"]).lower()[:32] if e.get("type") else None, "primary": e.get("primary") is True}
            for e in emails if e.get("value")]
    if rows:
        # A Core insert on the flushed row's connection: no ORM bulk path, no autoflush (the row is flushed).
        db.session.connection().execute(RegisteredUserEmail.__table__.insert(), rows)


def product_address(tenant: Tenant, user_name: str, emails: list[dict]) -> tuple[str | None, bytes | None]:
    email = contact_email(user_name, emails)
    return email, (email_index(tenant, email) if email is not None else None)
