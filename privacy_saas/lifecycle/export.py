"""Return export: every record of a tenant as a ZIP, encrypted at rest under the tenant's key.

The file is sealed in 1 MiB chunks with the tenant's data key, so the crypto-shred of
the purge makes any leftover copy unreadable, and the purge deletes the files too.
"""
from __future__ import annotations

import functools
import io
import json
import logging
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from privacy_saas import audit, clock, csvsafe
from privacy_saas.crypto.fields import Encrypted
from privacy_saas.crypto.keyring import tenant_scope
from privacy_saas.crypto.sealed_files import open_file, seal_file
from privacy_saas.errors import Conflict, NotFound
from privacy_saas.extensions import db
from privacy_saas.jobs.queue import enqueue
from privacy_saas.lifecycle.models import TenantExport
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)

#: Tables that describe the export machinery or credentials, not the tenant's data.
SKIP_TABLES = frozenset({"tenant_exports", "api_tokens", "purge_runs", "deletion_certificates",
                         "legal_holds", "monthly_aggregates", "audit_entries", "tenants", "notice_tasks",
                         "certificate_deliveries", "jobs"})
#: Columns never exported: ciphertexts (their plaintext is), blind indexes, secrets.
SKIP_COLUMN_SUFFIXES = ("_ct", "_bidx", "_hash")


def _path(tenant_id, export_id) -> Path:
    return Path(current_app.config["EXPORT_DIR"]) / str(tenant_id) / f"{export_id}.zip.sealed"


def _aad(export_id, index: int, final: bool) -> bytes:
    return f"tenant_export:{export_id}:{index}:{int(final)}".encode()


def request_export(tenant: Tenant, requested_by: str | None) -> TenantExport:
    """Queue a return export of the tenant's data."""
    if tenant.status != "ended" or tenant.end_action != "return_then_delete":
        raise Conflict("a return export is available once the contract has ended, for tenants whose "
                       "end_action is return_then_delete", code="export_unavailable")
    export = TenantExport(tenant_id=tenant.id, requested_by=requested_by)
    db.session.add(export)
    db.session.flush()
    audit.record("export.request", tenant_id=tenant.id, targets=[export.id])
    enqueue("privacy_saas.lifecycle.tasks.build_export", str(tenant.id), str(export.id), tenant_id=tenant.id)
    return export


def get_export(tenant: Tenant, export_id) -> TenantExport:
    """Return one of the tenant's exports, or raise NotFound."""
    export = db.session.get(TenantExport, (tenant.id, export_id))
    if export is None:
        raise NotFound("no such export")
    return export


def list_exports(tenant: Tenant) -> list[TenantExport]:
    """Return the tenant's exports, newest first."""
    return list(db.session.scalars(
        sa.select(TenantExport).where(TenantExport.tenant_id == tenant.id).order_by(TenantExport.created_at.desc())))


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def _exported_models() -> list[type]:
    models = []
    for mapper in db.Model.registry.mappers:
        table = mapper.local_table
        if "tenant_id" in table.c and table.name not in SKIP_TABLES:
            models.append(mapper.class_)
    return sorted(models, key=lambda m: m.__tablename__)


def _row(model, obj) -> dict:
    out = {}
    for column in model.__table__.c:
        if not column.key.endswith(SKIP_COLUMN_SUFFIXES):
            out[column.key] = _plain(getattr(obj, column.key))
    for name in dir(model):
        if isinstance(getattr(model, name, None), Encrypted):
            out[name] = getattr(obj, name)
    return out


def _write_zip(tenant: Tenant, fh) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for model in _exported_models():
            rows = []
            query = sa.select(model).where(model.tenant_id == tenant.id).order_by(model.id)
            for obj in db.session.scalars(query.execution_options(yield_per=1000)):
                rows.append(_row(model, obj))
            archive.writestr(f"{model.__tablename__}.json", json.dumps(rows, ensure_ascii=False, indent=1))
            if model.__tablename__ == "registered_users":
                text = io.StringIO()
                writer = csvsafe.DictWriter(text, fieldnames=list(rows[0]) if rows else ["id"])
                writer.writeheader()
                writer.writerows(rows)
                archive.writestr("registered_users.csv", text.getvalue())
        archive.writestr("manifest.json", json.dumps({
            "tenant": {"id": str(tenant.id), "slug": tenant.slug, "name": tenant.name},
            "generated_at": clock.now().isoformat(), "format": "privacy_saas.return_export/v1"}))


def build(tenant: Tenant, export: TenantExport) -> None:
    """Write the sealed ZIP for `export`."""
    target = _path(tenant.id, export.id)
    with tempfile.TemporaryFile() as plain:
        _write_zip(tenant, plain)
        plain.seek(0)
        size = seal_file(tenant_scope(tenant.id), plain, target, functools.partial(_aad, export.id))
    export.status, export.ready_at, export.size_bytes = "ready", clock.now(), size


def open_export(tenant: Tenant, export: TenantExport) -> Iterator[bytes]:
    """Yield the decrypted ZIP of a ready export, chunk by chunk."""
    if export.status != "ready":
        raise Conflict(f"export is {export.status}", code="export_not_ready")
    chunks = open_file(tenant_scope(tenant.id), _path(tenant.id, export.id), functools.partial(_aad, export.id))
    export.downloads += 1
    audit.record("export.download", tenant_id=tenant.id, targets=[export.id])
    return chunks
