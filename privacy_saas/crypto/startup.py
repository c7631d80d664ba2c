"""The app's keyring at start: built from the configuration, then checked against the keys the database holds."""
from __future__ import annotations

import logging

import isodate
import sqlalchemy as sa

from privacy_saas.crypto.errors import KeyUnavailable
from privacy_saas.crypto.keyring import Keyring, key_context
from privacy_saas.crypto.keystore import build_stores
from privacy_saas.crypto.models import DataKey, KeyCustody
from privacy_saas.crypto.providers import LocalKeyProvider, parse_master_keys
from privacy_saas.extensions import db

log = logging.getLogger(__name__)


def init_keyring(app) -> Keyring:
    """Build the app's keyring: master keys, the key stores this configuration reaches, the configured one."""
    try:
        master_keys = parse_master_keys(app.config["PRIVACY_SAAS_MASTER_KEYS"])
    except ValueError as exc:
        raise RuntimeError(f"PRIVACY_SAAS_MASTER_KEYS is invalid: {exc}") from None
    provider = LocalKeyProvider(master_keys)
    backend = app.config["KEYSTORE"]
    if app.config.get("OPENBAO_ADDR") and not app.config.get("OPENBAO_TOKEN"):
        raise RuntimeError("OPENBAO_ADDR is set but no token: set OPENBAO_TOKEN or OPENBAO_TOKEN_FILE")
    if backend == "openbao" and not app.config.get("OPENBAO_ADDR"):
        raise RuntimeError("PRIVACY_SAAS_KEYSTORE=openbao needs OPENBAO_ADDR (and OPENBAO_TOKEN or OPENBAO_TOKEN_FILE)")
    if backend not in ("local", "openbao"):
        raise RuntimeError(f"PRIVACY_SAAS_KEYSTORE must be local or openbao, not {backend!r}")
    try:
        # Read by every certificate: refused at start, not at the end of a purge.
        isodate.parse_duration(app.config["KEYSTORE_BACKUP_RETENTION"])
    except (isodate.ISO8601Error, ValueError):
        raise RuntimeError("PRIVACY_SAAS_KEYSTORE_BACKUP_RETENTION must be an ISO 8601 duration such as P30D, "
                           f"not {app.config['KEYSTORE_BACKUP_RETENTION']!r}") from None
    keyring = Keyring(provider, build_stores(app.config, provider), backend,
                      ttl=app.config.get("PRIVACY_SAAS_KEY_TTL_SECONDS", 300.0),
                      recheck=app.config.get("PRIVACY_SAAS_KEY_RECHECK_SECONDS", 5.0),
                      cache_size=app.config["PRIVACY_SAAS_KEY_CACHE_SIZE"])
    app.extensions["privacy_saas.keyring"] = keyring
    return keyring


def check_keys(ring: Keyring) -> None:
    """Refuse to run with keys that cannot open the stored data keys; raise KeyUnavailable naming why.

    Every master version in use must unwrap (old-layout rows and local KEKs), and every live scope's
    KEK must be in its store. A KEK the store reports destroyed is not missing: that scope was
    purged after this database was copied (a restored backup), and its data is unreadable.
    """
    inspector = sa.inspect(db.engine)
    if not inspector.has_table(DataKey.__tablename__) or not inspector.has_table(KeyCustody.__tablename__):
        return
    live = DataKey.destroyed_at.is_(None)
    versions = db.session.scalars(sa.select(DataKey.master_version)
                                  .where(live, DataKey.master_version.is_not(None)).distinct()).all()
    for version in versions:
        row = db.session.execute(
            sa.select(DataKey.scope, DataKey.purpose, DataKey.version, DataKey.wrapped)
            .where(live, DataKey.master_version == version).limit(1)
        ).one()
        ring.provider.unwrap(version, row.wrapped, key_context(row.scope, row.purpose, row.version))
    ring.local_store.check_master()
    scoped = db.session.execute(
        sa.select(KeyCustody.scope, KeyCustody.backend, KeyCustody.key_name)
        .where(KeyCustody.destroyed_at.is_(None),
               sa.exists().where(DataKey.scope == KeyCustody.scope, live))).all()
    by_backend: dict[str, list] = {}
    for row in scoped:
        by_backend.setdefault(row.backend, []).append(row)
    for backend, rows in by_backend.items():
        store = ring.store_for(backend)
        inventory = store.inventory()
        for row in rows:
            if row.key_name in inventory.live:
                continue
            if row.key_name in inventory.destroyed:
                log.warning("the key of %s was destroyed in the %s at %s: its data is unreadable",
                            row.scope, store.describe(), store.state(row.scope).destroyed_at.isoformat())
                continue
            raise KeyUnavailable(f"the key-encryption key of {row.scope} ({row.key_name}) is missing "
                                 f"from the {store.describe()}")
