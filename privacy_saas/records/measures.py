"""Technical and organisational measures (Art. 32), each stated from the running configuration or the data map."""
from __future__ import annotations

from collections import Counter

import sqlalchemy as sa
from flask import current_app

from privacy_saas.audit.models import AuditEntry, AuditHead
from privacy_saas.auth import passwords
from privacy_saas.auth.principal import CAPABILITIES
from privacy_saas.auth.lockout import LOCKOUT, MAX_FAILED_LOGINS
from privacy_saas.crypto.keyring import keyring
from privacy_saas.crypto.models import DataKey
from privacy_saas.datamap import retention
from privacy_saas.datamap.catalogue import ColumnEntry
from privacy_saas.datamap.declarations import OPAQUE_ID, SEALED_ROW_STATE
from privacy_saas.extensions import db
from privacy_saas.lifecycle.models import DeletionCertificate
from privacy_saas.lifecycle.purge import purge_tables


def _measure(name: str, detail: str, source: str) -> dict:
    return {"measure": name, "detail": detail, "source": source}


def _plaintext(entries: list[ColumnEntry]) -> str:
    """Return what the plaintext personal columns are, counted by kind."""
    def kind(entry: ColumnEntry) -> str:
        if entry.declaration.plaintext_because == OPAQUE_ID:
            return "opaque ids"
        if entry.declaration.plaintext_because == SEALED_ROW_STATE:
            return "statuses and dates of sealed records"
        if "credentials" in entry.declaration.categories or entry.column.endswith(("_bidx", "_hash")):
            return "one-way or keyed hashes"
        return "other, each with its own reason"

    counts = Counter(kind(e) for e in entries if e.personal and not e.encrypted)
    return ", ".join(f"{n} {name}" for name, n in counts.most_common())


def _share(entries: list[ColumnEntry], scope: str | None = None) -> str:
    personal = [e for e in entries if e.personal and (scope is None or e.declaration.scope == scope)]
    return f"{sum(e.encrypted for e in personal)} of {len(personal)}"


def processor_tables(entries: list[ColumnEntry]) -> list[str]:
    """Return the tenant tables that hold personal data processed for tenants."""
    return sorted({e.table for e in entries if e.tenant_scoped and e.personal and e.declaration.scope == "processor"})


def _isolation(entries: list[ColumnEntry]) -> dict:
    tables = processor_tables(entries)
    bind = db.session.get_bind()
    if bind.dialect.name != "postgresql":
        return _measure(
            "Tenant isolation",
            f"Every query of the {len(tables)} tables holding tenants' personal data ({', '.join(tables)}) is "
            f"scoped to one tenant by the service layer; another tenant's object answers 404. The embedded "
            f"SQLite database has no row-level security: use PostgreSQL in production for the second fence.",
            f"database: {bind.dialect.name}")
    rows = db.session.execute(sa.text(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names)"),
        {"names": tables}).all()
    forced = sorted(r.relname for r in rows if r.relrowsecurity and r.relforcerowsecurity)
    missing = sorted(set(tables) - set(forced))
    detail = (f"Every query is scoped to one tenant by the service layer (another tenant's object answers 404), "
              f"and PostgreSQL row-level security is enabled and forced on {len(forced)} of the {len(tables)} "
              f"tables holding tenants' personal data")
    detail += f"; not on: {', '.join(missing)}." if missing else "."
    return _measure("Tenant isolation", detail, "database catalogue (pg_class.relrowsecurity, relforcerowsecurity)")


def _keys() -> dict:
    ring = keyring()
    live = db.session.execute(sa.select(DataKey.scope, sa.func.count()).where(DataKey.destroyed_at.is_(None))
                              .group_by(DataKey.scope)).all()
    tenants = sum(1 for scope, _n in live if scope.startswith("tenant:"))
    destroyed = db.session.scalar(sa.select(sa.func.count(sa.distinct(DataKey.scope)))
                                  .where(DataKey.destroyed_at.is_not(None))) or 0
    master_wrapped = db.session.scalar(sa.select(sa.func.count(sa.distinct(DataKey.scope))).where(
        DataKey.destroyed_at.is_(None), DataKey.master_version.is_not(None))) or 0
    return _measure(
        "Key custody",
        f"One data key and one blind-index key per tenant and for the controller scope, stored in the database "
        f"only wrapped by the scope's key-encryption key, which is held outside it, in the {ring.store.describe()}"
        f"{' (never exported)' if ring.backend == 'openbao' else ' (wrapped by the master key)'}; "
        f"{master_wrapped} scope(s) still wrapped by the master key directly until `keys migrate`. Destroying a "
        f"scope's key-encryption key makes every copy of its data unreadable, backups included; unwrapped keys "
        f"live only in process memory. Live key scopes: {tenants} tenant(s)"
        f"{' and the controller' if any(scope == 'controller' for scope, _n in live) else ''}; "
        f"{destroyed} scope(s) crypto-shredded.",
        "keyring, key_custody, data_keys")


def measures(entries: list[ColumnEntry]) -> list[dict]:
    """Return the measures in force, as the records state them."""
    config = current_app.config
    blind = sorted(e.name for e in entries if e.column.endswith("_bidx") or e.column == "email_hash")
    chains = db.session.scalar(sa.select(sa.func.count()).select_from(AuditHead)) or 0
    audit_entries = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) or 0
    certificates = db.session.scalar(sa.select(sa.func.count()).select_from(DeletionCertificate)) or 0
    automatic = [rule.name for rule in retention.RULES.values() if rule.enforced_by]
    roles = {capability: ", ".join(sorted(CAPABILITIES[capability]))
             for capability in ("contacts.read", "records.read", "audit.read", "dsr.decide", "keys.manage")}
    return [
        _measure("Field encryption",
                 f"AES-256-GCM per value, authenticated with its table, column, tenant and row id so a ciphertext "
                 f"moved elsewhere does not open; {_share(entries)} personal columns are sealed "
                 f"(processor scope {_share(entries, 'processor')}, controller scope "
                 f"{_share(entries, 'controller')}, operational {_share(entries, 'operational')}); the plaintext "
                 f"ones are {_plaintext(entries)}, and every one states why in this record.",
                 "data map (Ciphertext columns)"),
        _keys(),
        _measure("Pseudonymised look-ups",
                 f"E-mail look-ups match keyed HMAC-SHA256 blind indexes, never decrypting: {', '.join(blind)}.",
                 "data map"),
        _isolation(entries),
        _measure("Access control",
                 f"Staff act through roles: decrypted marketing contacts for {roles['contacts.read']}; these "
                 f"records for {roles['records.read']}; the audit log for {roles['audit.read']}; data-subject "
                 f"request decisions for {roles['dsr.decide']}; key management for {roles['keys.manage']}. "
                 f"Tenants act only through their own admins and tokens.",
                 "privacy_saas.auth.principal.CAPABILITIES"),
        _measure("Authentication",
                 f"Passwords hashed with {passwords.describe()}; a staff account locks for "
                 f"{int(LOCKOUT.total_seconds() // 60)} minutes after {MAX_FAILED_LOGINS} failed sign-ins; API "
                 f"tokens stored as SHA-256 of a 256-bit secret; session cookies HttpOnly, SameSite="
                 f"{config.get('SESSION_COOKIE_SAMESITE')}, "
                 f"{'Secure' if config.get('SESSION_COOKIE_SECURE') else 'NOT Secure (plain-HTTP development only)'}.",
                 "configuration, privacy_saas.auth"),
        _measure("Audit trail",
                 f"Every instruction and staff action is an entry with opaque ids only, hash-chained (SHA-256) per "
                 f"scope: {chains} chain(s), {audit_entries} entries; `privacy-saas audit verify` proves a chain "
                 f"unbroken.",
                 "audit_heads, audit_entries"),
        _measure("Deletion",
                 f"At the end of a tenant's retention the purge destroys its keys first (crypto-shredding every copy "
                 f"of its ciphertext), then erases its rows from {', '.join(t.name for t in purge_tables())} and its "
                 f"export files, and signs an Ed25519 deletion certificate ({certificates} issued).",
                 "data map (erased_by_purge), deletion_certificates"),
        _measure("Retention enforcement",
                 f"Rules applied by code: {', '.join(automatic)}; the others are stated in the retention section "
                 f"with who applies them.",
                 "privacy_saas.datamap.retention"),
        _measure("Logging",
                 "SQL parameters are never written to logs or errors"
                 if config.get("SQLALCHEMY_ENGINE_OPTIONS", {}).get("hide_parameters")
                 else "SQL parameters MAY appear in logs (hide_parameters is off)",
                 "SQLALCHEMY_ENGINE_OPTIONS.hide_parameters"),
    ]
