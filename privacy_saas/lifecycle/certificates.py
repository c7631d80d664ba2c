"""Deletion certificates: what they state about backups, how they read as sentences, their signature.

Type v2 (key custody) adds `key_store` (the store's receipts), `files_deleted` per kind and `backups`;
v1 certificates, issued before, still verify and read.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import isodate
from flask import current_app

from privacy_saas.crypto.signing import (
    generate_signing_key,
    load_private_key,
    public_key_pem,
    sign_document,
    verify_document,
)

log = logging.getLogger(__name__)

CURRENT_TYPE = "privacy_saas.deletion_certificate/v2"
TYPES = ("privacy_saas.deletion_certificate/v1", CURRENT_TYPE)


def signing_key():
    """Return the vendor's private signing key (dev: generated once under instance/, loudly)."""
    cached = current_app.extensions.get("privacy_saas.signing_key")
    if cached is not None:
        return cached
    path = Path(current_app.config["PRIVACY_SAAS_SIGNING_KEY_FILE"])
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(generate_signing_key())
        log.warning("DEVELOPMENT certificate signing key generated at %s; configure "
                    "PRIVACY_SAAS_SIGNING_KEY_FILE in production", path)
    key = load_private_key(path.read_bytes())
    current_app.extensions["privacy_saas.signing_key"] = key
    return key


def public_pem() -> bytes:
    """Return the PEM public key that verifies this installation's certificates."""
    return public_key_pem(signing_key())


def sign(document: dict) -> dict:
    """Return `document` signed by the vendor key."""
    return sign_document(signing_key(), document)


def verify(signed: dict, public_key: bytes | str | None = None) -> bool:
    """Return whether `signed` carries a valid signature (by default of this installation's key)."""
    return verify_document(public_key or public_pem(), signed)


def _day(value: str | datetime) -> str:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def backups_statement(key_store: dict, destroyed_at: datetime, retention: str) -> dict:
    """Say what the tenant's key custody makes of backups: which are unreadable from when, which expire when.

    Only what is true for this scope's custody: a key store whose key never left it (OpenBao), a
    key-store file whose own backups hold the key until they expire (local), or data keys wrapped by
    the master key directly (no key store: backups stay readable until that master key is retired).
    """
    horizon = destroyed_at + isodate.parse_duration(retention)
    backend, names = key_store["backend"], ", ".join(key_store["key_names"])
    since, previous = key_store.get("custody_since"), key_store.get("previous_custody")
    statements = []
    unreadable_from, expire_by = destroyed_at.isoformat(), horizon.isoformat()
    if backend == "master":
        versions = ", ".join(f"v{v}" for v in key_store["master_versions"])
        statements.append(
            f"This tenant's data keys were wrapped by the master key ({versions}) directly, not by a key store: "
            f"database backups taken before {_day(destroyed_at)} stay readable with that master key until it is "
            "retired (privacy-saas keys rotate-master, then remove the old version from the configuration).")
        return {"database_backups_unreadable_from": None, "key_store_backups_expire_by": None,
                "key_store_backup_retention": retention, "statements": statements}
    scope_of_backups = "Database backups of any date"
    if previous and previous.startswith("master"):
        scope_of_backups = f"Database backups taken since {_day(since)}"
        statements.append(
            f"Database backups taken before {_day(since)} hold this tenant's data keys wrapped by the master key "
            f"({previous}) directly: they stay readable with it until that master key version is retired.")
        unreadable_from = None
    if backend == "openbao":
        statements.insert(0,
            f"{scope_of_backups} are unreadable from {_day(destroyed_at)}: they hold this tenant's data keys only "
            f"wrapped by the key-encryption key {names}, which never left the key store (OpenBao) and was "
            "destroyed there.")
        statements.append(
            f"Backups of the key store itself (OpenBao storage snapshots) taken before {_day(destroyed_at)} still "
            f"hold that key; kept for {retention}, they expire by {_day(horizon)}.")
    else:
        statements.insert(0,
            f"{scope_of_backups} are unreadable from {_day(destroyed_at)} on their own: they hold this tenant's "
            f"data keys only wrapped by the key-encryption key {names}, which lived only in the key-store file and "
            "was overwritten there.")
        statements.append(
            f"Backups of the key-store file taken before {_day(destroyed_at)} still hold that key (wrapped by the "
            f"master key); kept for {retention}, they expire by {_day(horizon)}. Until then such a backup, the "
            "master key and a database backup together would still decrypt this tenant's data.")
    if previous == "local" and backend == "openbao":
        statements.append("The key it had in the local key-store file before moving to OpenBao was destroyed "
                          "as well; backups of that file expire by the same date.")
    return {"database_backups_unreadable_from": unreadable_from, "key_store_backups_expire_by": expire_by,
            "key_store_backup_retention": retention, "statements": statements}


def describe(signed: dict) -> list[str]:
    """Return the certificate's facts as sentences (v1 and v2), for people: CLI and console."""
    body = signed["certificate"]
    tenant = body["tenant"]
    lines = [
        f"Tenant {tenant['slug']} (id {tenant['id']}, region {tenant['region'].upper()}) was purged: its contract "
        f"ended on {body['contract_end']}, and the agreed policy was to {body['policy']['end_action'].replace('_', ' ')} "
        f"after {body['policy']['retain_after_end']}.",
        f"The purge started at {_day(body['purge_started_at'])} and finished at {_day(body['purge_finished_at'])}.",
        f"Its keys were destroyed at {_day(body['keys_destroyed_at'])}: data keys "
        f"{', '.join(body['keys_destroyed']) or '(none)'}.",
    ]
    key_store = body.get("key_store")
    if key_store and key_store["receipts"]:
        for receipt in key_store["receipts"]:
            versions = ", ".join(f"v{v}" for v in receipt["versions"]) or "no version"
            lines.append(f"The {receipt['backend']} key store confirmed the destruction of key-encryption key "
                         f"{receipt['key_name']} ({versions}) at {_day(receipt['destroyed_at'])}.")
    rows = body["rows_deleted"]
    lines.append(f"{body['rows_deleted_total']} database rows were deleted"
                 + (": " + ", ".join(f"{n} from {t}" for t, n in rows.items()) if rows else "") + ".")
    files = body["files_deleted"]
    if isinstance(files, dict):
        kinds = {"return_exports": "return export(s)", "outbox_mails": "outbox mail(s)", "other": "other file(s)"}
        lines.append(f"{body['files_deleted_total']} files were deleted: "
                     + ", ".join(f"{files.get(k, 0)} {label}" for k, label in kinds.items()) + ".")
    else:
        lines.append(f"{files} files were deleted.")
    if body.get("aggregates_kept"):
        lines.append("Only non-personal monthly aggregates (active users, events by kind) were kept.")
    if "backups" in body:
        lines.extend(body["backups"]["statements"])
    else:
        lines.append("This certificate (type v1) says nothing about backups.")
    lines.append(f"Issued by {body['software']}.")
    return lines
