"""A tenant's privacy contacts (managed by its tenant file and its admins) and who receives its notices.

The addresses are personal data of the client's staff: sealed under the tenant's key, looked up by
blind index, never logged or audited (audit entries name contact ids).
"""
from __future__ import annotations

import sqlalchemy as sa

from privacy_saas import audit
from privacy_saas.crypto import normalise_email
from privacy_saas.crypto.errors import KeyDestroyed
from privacy_saas.crypto.keyring import keyring, tenant_scope
from privacy_saas.errors import Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.processor.privacy_contacts.models import MAX_CONTACTS, PrivacyContact
from privacy_saas.processor.tenants.gates import ensure_readable
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.processor.users.validation import check_email

#: Tenants whose contacts one query reads, when a plan reads every tenant's.
TENANTS_PER_QUERY = 1000


def _index(tenant: Tenant, email: str) -> bytes:
    return keyring().email_index(tenant_scope(tenant.id), email)


def list_for(tenant: Tenant) -> list[PrivacyContact]:
    """Return the tenant's privacy contacts, oldest first."""
    ensure_readable(tenant)
    return list(db.session.scalars(sa.select(PrivacyContact).where(PrivacyContact.tenant_id == tenant.id)
                                   .order_by(PrivacyContact.id)))


def get(tenant: Tenant, contact_id) -> PrivacyContact:
    """Return one of the tenant's contacts; another tenant's (or none) is NotFound."""
    ensure_readable(tenant)
    contact = db.session.get(PrivacyContact, (tenant.id, contact_id)) if contact_id is not None else None
    if contact is None:
        raise NotFound("no such privacy contact")
    return contact


def _insert(tenant: Tenant, email: str, source: str, actor) -> PrivacyContact:
    contact = PrivacyContact(tenant_id=tenant.id, email=email, email_bidx=_index(tenant, email), source=source)
    db.session.add(contact)
    db.session.flush()
    audit.record("privacy_contact.add", tenant_id=tenant.id, targets=[contact.id], actor=actor,
                 detail={"source": source})
    return contact


def add(tenant: Tenant, email: str, *, actor=None) -> PrivacyContact:
    """Add a contact on a tenant admin's instruction (it stays until an admin removes it)."""
    ensure_readable(tenant)
    email = check_email(email)
    bidx = _index(tenant, email)
    if db.session.scalar(sa.select(PrivacyContact.id).where(PrivacyContact.tenant_id == tenant.id,
                                                            PrivacyContact.email_bidx == bidx)):
        raise Conflict("this address is already a privacy contact", code="contact_exists")
    if len(list_for(tenant)) >= MAX_CONTACTS:
        raise Conflict(f"a tenant has at most {MAX_CONTACTS} privacy contacts", code="too_many_contacts")
    return _insert(tenant, email, "console", actor)


def remove(tenant: Tenant, contact: PrivacyContact, *, actor=None) -> None:
    """Remove a contact added in the console; those of the tenant file change with the file."""
    if contact.source == "file":
        raise Conflict("this contact is named in your contract's tenant file: ask your account manager to "
                       "change it", code="contact_from_file")
    db.session.delete(contact)
    db.session.flush()
    audit.record("privacy_contact.remove", tenant_id=tenant.id, targets=[contact.id], actor=actor)


def file_changes(tenant: Tenant, emails) -> tuple[list[tuple[str, PrivacyContact | None]], list[PrivacyContact]]:
    """Return what the tenant file changes: addresses to manage by file (with the console contact that
    already holds each, if any), and the file-managed contacts it no longer names."""
    return file_changes_many({tenant: emails})[tenant.id]


def file_changes_many(wanted: dict[Tenant, tuple]) -> dict:
    """Return file_changes for each tenant of `wanted` ({tenant: emails}), by tenant id.

    One query for all their contacts and their keys read in bulk: a plan over every tenant file asks
    for every tenant.
    """
    for tenant in wanted:
        ensure_readable(tenant)
    indexes = keyring().blind_indexes((tenant_scope(tenant.id), email)
                                      for tenant, emails in wanted.items() for email in emails)
    held: dict = {}
    ids = [tenant.id for tenant in wanted]
    for start in range(0, len(ids), TENANTS_PER_QUERY):
        for contact in db.session.scalars(sa.select(PrivacyContact).where(
                PrivacyContact.tenant_id.in_(ids[start:start + TENANTS_PER_QUERY]))
                .order_by(PrivacyContact.tenant_id, PrivacyContact.id)):
            held.setdefault(contact.tenant_id, {})[contact.email_bidx] = contact
    changes = {}
    for tenant, emails in wanted.items():
        scope, theirs = tenant_scope(tenant.id), held.get(tenant.id, {})
        if any((scope, email) not in indexes for email in emails):
            raise KeyDestroyed(f"the index key of {scope} has been destroyed")
        named = {indexes[(scope, email)]: email for email in emails}
        changes[tenant.id] = ([(email, theirs.get(bidx)) for bidx, email in named.items()
                               if bidx not in theirs or theirs[bidx].source != "file"],
                              [c for bidx, c in theirs.items() if c.source == "file" and bidx not in named])
    return changes


def sync_file(tenant: Tenant, emails) -> tuple[int, int]:
    """Make the file-managed contacts those the tenant file names; return (added, removed)."""
    to_add, to_remove = file_changes(tenant, emails)
    for email, held in to_add:
        if held is not None:
            # An admin added it in the console; now the contract names it too.
            held.source = "file"
            audit.record("privacy_contact.managed_by_file", tenant_id=tenant.id, targets=[held.id])
        else:
            _insert(tenant, email, "file", None)
    for contact in to_remove:
        db.session.delete(contact)
        audit.record("privacy_contact.remove", tenant_id=tenant.id, targets=[contact.id],
                     detail={"source": "file"})
    db.session.flush()
    return len(to_add), len(to_remove)


def _addresses(tenant: Tenant) -> list[str]:
    admins = db.session.scalars(sa.select(RegisteredUser).where(
        RegisteredUser.tenant_id == tenant.id, RegisteredUser.role == "admin", RegisteredUser.status == "active")
        .order_by(RegisteredUser.id))
    contacts = db.session.scalars(sa.select(PrivacyContact).where(PrivacyContact.tenant_id == tenant.id)
                                  .order_by(PrivacyContact.id))
    seen, out = set(), []
    for address in [u.email for u in admins] + [c.email for c in contacts]:
        key = normalise_email(address)
        if key not in seen:
            seen.add(key)
            out.append(address)
    return out


def notice_recipients(tenant: Tenant) -> list[str]:
    """Return who receives the vendor's notices: active admins and privacy contacts, each address once."""
    if tenant.status in ("purging", "purged"):
        return []
    return _addresses(tenant)


def certificate_recipients(tenant: Tenant) -> list[str]:
    """Return who receives the deletion certificate: the same people, read by the purge before its shred."""
    return _addresses(tenant)
