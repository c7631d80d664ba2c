"""Access and portability exports: one subject's data in one scope, sealed, downloadable once, 30 days."""
from __future__ import annotations

import functools
import io
import json
import logging
import tempfile
import zipfile
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from privacy_saas import audit, clock, csvsafe
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.controller.contacts.models import Contact
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, tenant_scope
from privacy_saas.crypto.sealed_files import open_file, seal_file
from privacy_saas.errors import AppError, Conflict
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.usage.models import SupportRequest, UsageEvent
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.rights.models import DsrTask

log = logging.getLogger(__name__)

#: How long a ready export may be fetched before it is deleted.
RETENTION = timedelta(days=30)
FORMAT = "privacy_saas.subject_export/v1"


class ExportGone(AppError):
    """The export was downloaded already, or has expired and been deleted."""

    status = 410
    code = "export_gone"


def path_of(task: DsrTask) -> Path:
    """Return where a task's sealed export lives.

    A tenant's exports sit in its export directory, which the purge deletes with everything else.
    """
    folder = "controller" if task.scope == "controller" else str(task.tenant_id)
    return Path(current_app.config["EXPORT_DIR"]) / folder / "dsr" / f"{task.id}.zip.sealed"


def _scope(task: DsrTask) -> str:
    return CONTROLLER_SCOPE if task.scope == "controller" else tenant_scope(task.tenant_id)


def _aad(task_id, index: int, final: bool) -> bytes:
    return f"dsr_export:{task_id}:{index}:{int(final)}".encode()


def _when(value):
    return value.isoformat() if value is not None else None


def user_document(user: RegisteredUser) -> dict:
    """Return everything held about a registered user in their tenant's scope, as plain JSON data."""
    events = db.session.scalars(
        sa.select(UsageEvent).where(UsageEvent.tenant_id == user.tenant_id, UsageEvent.user_id == user.id)
        .order_by(UsageEvent.occurred_at, UsageEvent.id)).all()
    support = db.session.scalars(
        sa.select(SupportRequest).where(SupportRequest.tenant_id == user.tenant_id,
                                        SupportRequest.user_id == user.id)
        .order_by(SupportRequest.created_at, SupportRequest.id)).all()
    return {
        "user": {"id": str(user.id), "email": user.email, "user_name": user.user_name, "emails": user.emails,
                 "contact": user.contact, "profile": user.profile, "enterprise": user.enterprise,
                 "display_name": user.display_name,
                 "given_name": user.given_name, "family_name": user.family_name, "role": user.role,
                 "status": user.status, "external_id": user.external_id, "created_at": _when(user.created_at),
                 "last_login_at": _when(user.last_login_at), "processing_restricted": user.processing_restricted},
        "usage_events": [{"id": str(e.id), "kind": e.kind, "occurred_at": _when(e.occurred_at), "detail": e.detail}
                         for e in events],
        "support_requests": [{"id": str(s.id), "status": s.status, "created_at": _when(s.created_at),
                              "subject": s.subject, "body": s.body} for s in support],
    }


def document(task: DsrTask) -> dict | None:
    """Return the subject's document for a task, or None when the subject no longer exists."""
    if task.scope == "controller":
        contact = db.session.get(Contact, task.subject_id)
        body = contacts.export_subject(contact) if contact is not None else None
        held_by = {"controller": "the vendor"}
    else:
        user = db.session.get(RegisteredUser, (task.tenant_id, task.subject_id))
        body = user_document(user) if user is not None else None
        tenant = db.session.get(Tenant, task.tenant_id)
        held_by = {"controller": tenant.name, "processor": "the vendor", "tenant_id": str(tenant.id)}
    if body is None:
        return None
    return {"format": FORMAT, "kind": task.request.kind, "generated_at": clock.now().isoformat(),
            "held_by": held_by, **body}


def _csv(rows: list[dict]) -> str:
    text = io.StringIO()
    names = list(dict.fromkeys(k for row in rows for k in row)) or ["id"]
    writer = csvsafe.DictWriter(text, fieldnames=names)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                         for k, v in row.items()})
    return text.getvalue()


def write_zip(doc: dict, fh) -> None:
    """Write the document as subject.json plus one CSV per table."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("subject.json", json.dumps(doc, ensure_ascii=False, indent=1))
        for name, value in doc.items():
            if isinstance(value, list):
                archive.writestr(f"{name}.csv", _csv(value))


def build(task: DsrTask) -> None:
    """Write the sealed export of an approved access/portability task and mark it executed."""
    doc = document(task)
    if doc is None:
        task.export_status = "failed"
        task.finish({"error": "subject_gone"}, "failed")
    else:
        with tempfile.TemporaryFile() as plain:
            write_zip(doc, plain)
            plain.seek(0)
            size = seal_file(_scope(task), plain, path_of(task), functools.partial(_aad, task.id))
        task.export_status, task.export_expires_at = "ready", clock.now() + RETENTION
        task.finish({"export_bytes": size, **{k: len(v) for k, v in doc.items() if isinstance(v, list)}})
    task.request.close_if_done()
    db.session.flush()
    audit.record(f"dsr.{task.noun}.execute", scope="controller" if task.scope == "controller" else None,
                 tenant_id=task.tenant_id, targets=[task.id, task.request_id],
                 detail={"kind": task.request.kind, "export": task.export_status})


def _delete_file(task: DsrTask) -> None:
    path_of(task).unlink(missing_ok=True)


def download(task: DsrTask) -> bytes:
    """Return the decrypted ZIP once, then delete it; refused when downloaded, expired or not ready."""
    if task.export_status in ("downloaded", "expired"):
        raise ExportGone(f"this export is {task.export_status}; it can be downloaded only once, "
                         f"within {RETENTION.days} days")
    if task.export_status != "ready":
        raise Conflict("there is no ready export for this task", code="export_not_ready")
    if clock.now() >= task.export_expires_at:
        expire(task)
        raise ExportGone("this export has expired and been deleted", keep_changes=True)
    data = b"".join(open_file(_scope(task), path_of(task), functools.partial(_aad, task.id)))
    task.export_status, task.export_downloaded_at = "downloaded", clock.now()
    _delete_file(task)
    db.session.flush()
    audit.record(f"dsr.{task.noun}.download", scope="controller" if task.scope == "controller" else None,
                 tenant_id=task.tenant_id, targets=[task.id])
    return data


def expire(task: DsrTask) -> None:
    """Delete an export's file and mark it expired."""
    _delete_file(task)
    task.export_status = "expired"
    db.session.flush()
    audit.record("dsr.export.expire", scope="controller" if task.scope == "controller" else None,
                 tenant_id=task.tenant_id, targets=[task.id], actor=("system", None))


def expire_due() -> int:
    """Delete every ready export older than 30 days; return how many."""
    due = db.session.scalars(sa.select(DsrTask).where(DsrTask.export_status == "ready",
                                                      DsrTask.export_expires_at <= clock.now())).all()
    for task in due:
        expire(task)
    return len(due)
