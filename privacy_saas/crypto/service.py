"""Key operations other packages call: create a tenant's keys, crypto-shred them."""
from __future__ import annotations

from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, keyring, tenant_scope


def create_tenant_keys(tenant) -> None:
    """Give a new tenant its data and index keys, so no row of it is ever plaintext."""
    keyring().create_scope(tenant_scope(tenant.id))


def destroy_tenant_keys(tenant) -> list[str]:
    """Crypto-shred a tenant: every copy of its ciphertext becomes unreadable; returns key ids."""
    return keyring().destroy_scope(tenant_scope(tenant.id))


def ensure_controller_keys() -> None:
    """Create the controller scope's keys if missing."""
    keyring().create_scope(CONTROLLER_SCOPE)
