"""Background work on keys: re-encrypt a scope's rows under a new data key version; scopes to move."""
from __future__ import annotations

import logging
import os
import signal
import uuid

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.crypto.fields import REGISTRY
from privacy_saas.crypto.keyring import keyring
from privacy_saas.crypto.models import DataKey, KeyCustody, KeyRotation
from privacy_saas.extensions import db
from privacy_saas.jobs.queue import report_progress

log = logging.getLogger(__name__)

BATCH_SIZE = 500


def _models_for(scope: str) -> list[tuple[type, list[str]]]:
    kind = "controller" if scope == "controller" else "tenant"
    by_model: dict[type, list[str]] = {}
    for model, attr in REGISTRY:
        if model.__key_scope_kind__ == kind:
            by_model.setdefault(model, []).append(attr)
    return sorted(by_model.items(), key=lambda item: item[0].__tablename__)


def _scope_filter(model, scope: str):
    if scope == "controller":
        return sa.true()
    return model.tenant_id == tenant_of(scope)


def tenant_of(scope: str) -> uuid.UUID | None:
    """Return the tenant id of a tenant scope (None for the controller scope)."""
    return uuid.UUID(scope.split(":", 1)[1]) if scope.startswith("tenant:") else None


def scopes_to_move(backend: str) -> list[str]:
    """Return the scopes with live keys not yet under a KEK in store `backend` (keys migrate)."""
    moved = sa.select(KeyCustody.scope).where(KeyCustody.backend == backend)
    return list(db.session.scalars(sa.select(DataKey.scope).where(
        DataKey.destroyed_at.is_(None), DataKey.scope.not_in(moved)).distinct().order_by(DataKey.scope)))


def fault(point: str) -> None:
    """Kill this process at `point` when fault injection asks for it (resumability tests only)."""
    if os.environ.get("PRIVACY_SAAS_KEYS_FAULT") == point:
        log.warning("fault injection: SIGKILL at %s", point)
        os.kill(os.getpid(), signal.SIGKILL)


def start_rotation(scope: str) -> KeyRotation:
    """Add a data key version to `scope` and record a rotation to it (or return the running one)."""
    running = db.session.scalar(
        sa.select(KeyRotation).where(KeyRotation.scope == scope, KeyRotation.finished_at.is_(None)))
    if running is not None:
        return running
    rotation = KeyRotation(scope=scope, to_version=keyring().add_version(scope))
    db.session.add(rotation)
    db.session.flush()
    audit.record("keys.rotation_started", scope=scope, tenant_id=tenant_of(scope), targets=[rotation.id],
                 detail={"to_version": rotation.to_version})
    log.info("key rotation %s started for %s to version %d", rotation.id, scope, rotation.to_version)
    return rotation


def count_rows(scope: str) -> int:
    """Return how many rows of `scope` hold encrypted values (for progress bars)."""
    return sum(
        db.session.scalar(sa.select(sa.func.count()).select_from(model).where(_scope_filter(model, scope)))
        for model, _attrs in _models_for(scope)
    )


def rotate_scope(scope: str, batch_size: int = BATCH_SIZE, on_batch=None) -> KeyRotation:
    """Re-seal every row of `scope` under the newest version, batch by batch, then destroy the old ones.

    Each batch is its own transaction and moves the checkpoint, so a killed run resumes
    where it stopped. Rows are locked while re-sealed so concurrent updates are not lost.
    """
    rotation = start_rotation(scope)
    db.session.commit()
    for model, attrs in _models_for(scope):
        table = model.__tablename__
        if rotation.table_name is not None and table < rotation.table_name:
            continue
        last_id = rotation.last_id if rotation.table_name == table else None
        while True:
            query = sa.select(model).where(_scope_filter(model, scope)).order_by(model.id).limit(batch_size)
            if last_id is not None:
                query = query.where(model.id > last_id)
            rows = list(db.session.scalars(query.with_for_update()))
            if not rows:
                break
            for row in rows:
                for attr in attrs:
                    descriptor = getattr(model, attr)
                    if descriptor.version_of(row) not in (None, rotation.to_version):
                        setattr(row, attr, getattr(row, attr))
            last_id = rows[-1].id
            rotation.table_name, rotation.last_id = table, last_id
            rotation.rows_done += len(rows)
            db.session.commit()
            report_progress(rotation.rows_done, scope=scope)
            if on_batch is not None:
                on_batch(rotation)
    old = db.session.scalars(
        sa.select(DataKey.version).where(DataKey.scope == scope, DataKey.purpose == "data",
                                         DataKey.version < rotation.to_version,
                                         DataKey.destroyed_at.is_(None))).all()
    keyring().destroy_versions(scope, versions=old)
    rotation.finished_at = clock.now()
    audit.record("keys.rotation_finished", scope=scope, tenant_id=tenant_of(scope), targets=[rotation.id],
                 detail={"rows": rotation.rows_done, "destroyed_versions": list(old)})
    db.session.commit()
    log.info("key rotation %s finished: %d rows, versions %s destroyed", rotation.id, rotation.rows_done, old)
    return rotation


def rotate_scope_job(scope: str) -> None:
    """Job entry point: rotate `scope`."""
    rotate_scope(scope)
