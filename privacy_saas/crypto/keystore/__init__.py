"""Key stores: where each scope's key-encryption key (KEK) lives, outside the application database.

Every scope (`tenant:<uuid>`, `controller`) has one KEK in a key store. Its data key and blind-index
key are stored in `data_keys` only wrapped by that KEK, so destroying the KEK in the store shreds
every copy of them at once: the live database, its replicas, dumps and backups.

- `local` (local.py, the embedded default): a SQLite file of its own, never the application
  database, each KEK version wrapped by the master key.
- `openbao` (openbao.py): one non-exportable transit key per scope in OpenBao (or Vault).

What both do is base.py's `KeyStore`; `build_stores` returns those a configuration reaches.

Key names carry ids only: `<prefix>-tenant-<uuid>`, `<prefix>-controller`. Nothing here logs or
raises key material; messages name scopes, key names and versions.
"""
from __future__ import annotations

from privacy_saas.crypto.keystore.base import Inventory, KeyState, KeyStore, Receipt
from privacy_saas.crypto.keystore.local import LocalKeyStore
from privacy_saas.crypto.keystore.openbao import OpenBaoKeyStore
from privacy_saas.crypto.providers import LocalKeyProvider

__all__ = ["Inventory", "KeyState", "KeyStore", "LocalKeyStore", "OpenBaoKeyStore", "Receipt", "build_stores"]


def build_stores(config: dict, master: LocalKeyProvider) -> dict[str, KeyStore]:
    """Return every key store this configuration can reach: `local` always, `openbao` when OPENBAO_ADDR is set."""
    prefix = config["KEYSTORE_PREFIX"]
    stores: dict[str, KeyStore] = {"local": LocalKeyStore(config["KEYSTORE_PATH"], master, prefix)}
    if config.get("OPENBAO_ADDR"):
        timeout = (float(config["OPENBAO_CONNECT_TIMEOUT"]), float(config["OPENBAO_READ_TIMEOUT"]))
        stores["openbao"] = OpenBaoKeyStore(config["OPENBAO_ADDR"], config.get("OPENBAO_TOKEN") or "",
                                            config["OPENBAO_TRANSIT_MOUNT"], config["OPENBAO_KV_MOUNT"], prefix,
                                            timeout)
    return stores
