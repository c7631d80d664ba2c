"""The purge lease: one worker at a time on a tenant's purge, another taking over when its holder goes silent.

The lease is short (a dead worker's purge resumes within a minute or so), so it is renewed at every
step and batch of the purge (purge.py), and given up at once when a run fails.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.lifecycle.models import PurgeRun

log = logging.getLogger(__name__)


class PurgeBusy(Exception):
    """Another worker holds this tenant's purge lease, until `lease_until`."""

    def __init__(self, message: str, lease_until: datetime):
        super().__init__(message)
        self.lease_until = lease_until


class LeaseLost(RuntimeError):
    """This run's lease ran out and another worker took it: this run stops, the other goes on."""


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def length() -> timedelta:
    return timedelta(seconds=current_app.config["PURGE_LEASE_SECONDS"])


def take(run: PurgeRun, worker: str) -> bool:
    now = clock.now()
    taken = db.session.execute(
        sa.update(PurgeRun)
        .where(PurgeRun.id == run.id,
               sa.or_(PurgeRun.lease_until.is_(None), PurgeRun.lease_until < now, PurgeRun.locked_by == worker))
        .values(locked_by=worker, lease_until=now + length())
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.refresh(run)
    return taken


def renew(run_id, **values) -> None:
    """Extend this worker's lease (with `values`, in the current transaction); LeaseLost if it is no longer ours.

    A run whose lease another worker took stops at its next renewal, before its batch commits: two
    runs never both count what they delete.
    """
    renewed = db.session.execute(
        sa.update(PurgeRun).where(PurgeRun.id == run_id, PurgeRun.locked_by == worker_id())
        .values(lease_until=clock.now() + length(), **values)
        .execution_options(synchronize_session=False)).rowcount
    if renewed != 1:
        raise LeaseLost(f"purge {run_id}: the lease of {worker_id()} ran out and another worker took it")


def checkpoint(run_id, deleted: dict, batches: int) -> None:
    """Renew the lease with the rows deleted and the batches done so far, committed with the batch."""
    renew(run_id, rows_deleted=dict(deleted), batches=batches)


def release(run_id) -> None:
    """Give up this worker's lease after a failure, so the retry need not wait for it to run out."""
    try:
        db.session.rollback()
        db.session.execute(sa.update(PurgeRun).where(PurgeRun.id == run_id, PurgeRun.locked_by == worker_id())
                           .values(locked_by=None, lease_until=None).execution_options(synchronize_session=False))
        db.session.commit()
    except sa.exc.SQLAlchemyError as error:
        db.session.rollback()
        log.warning("purge %s: lease not released (%s); it runs out by itself", run_id, type(error).__name__)
