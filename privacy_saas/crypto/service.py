"""Key operations other packages call: create a tenant's keys, crypto-shred them."""
from __future__ import annotations

import sqlalchemy as sa

from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, Shred, keyring, tenant_scope
from privacy_saas.crypto.models import DataKey, KeyCustody
from privacy_saas.extensions import db


def create_tenant_keys(tenant) -> None:
    """Give a new tenant its data and index keys, so no row of it is ever plaintext."""
    keyring().create_scope(tenant_scope(tenant.id))


def destroy_tenant_keys(tenant) -> Shred:
    """Crypto-shred a tenant: every copy of its ciphertext becomes unreadable; returns the stores' receipts."""
    return keyring().destroy_scope(tenant_scope(tenant.id))


def ensure_controller_keys() -> None:
    """Create the controller scope's keys if missing."""
    keyring().create_scope(CONTROLLER_SCOPE)


def custody_report(tenant) -> dict:
    """Return the key custody of a tenant's scope as the certificate states it: store, keys, receipts."""
    scope = tenant_scope(tenant.id)
    custody = db.session.get(KeyCustody, scope)
    if custody is None:
        masters = sorted(set(db.session.scalars(sa.select(DataKey.master_version).where(
            DataKey.scope == scope, DataKey.master_version.is_not(None)))))
        return {"backend": "master", "master_versions": masters, "key_names": [], "versions": {},
                "destroyed_at": None, "receipts": [], "custody_since": None, "previous_custody": None}
    receipts = custody.receipts or []
    return {
        "backend": custody.backend,
        "key_names": [r["key_name"] for r in receipts],
        "versions": {r["key_name"]: r["versions"] for r in receipts},
        "destroyed_at": custody.destroyed_at.isoformat() if custody.destroyed_at else None,
        "receipts": receipts,
        "custody_since": custody.since.isoformat(),
        "previous_custody": custody.previous,
    }
