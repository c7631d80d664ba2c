"""Background work of the controller scope: the retention sweep (scheduled quarterly).

Idempotent: a second run finds nothing more due. Batch-committed: each batch is its
own transaction and moves the checkpoint. Resumable: a run whose worker died is taken
over after its lease and continues with the same cutoffs.
"""
from __future__ import annotations

import logging

from privacy_saas import clock
from privacy_saas.controller.retention import service
from privacy_saas.controller.retention.models import RetentionSweep
from privacy_saas.controller.retention.rules import parse_period, review_interval
from privacy_saas.extensions import db
from privacy_saas.jobs.queue import report_progress

log = logging.getLogger(__name__)

BATCH_SIZE = 500


def run_sweep(batch_size: int = BATCH_SIZE, on_batch=None) -> RetentionSweep:
    """Apply every retention rule, committing after each batch; return the finished sweep."""
    sweep = service.claim()
    db.session.commit()
    log.info("retention sweep %s started (as of %s)", sweep.id, sweep.as_of.isoformat())
    done = sum(entry["deleted"] for entry in sweep.report["rules"].values())
    for rule in service.sweep_rules(sweep):
        while True:
            deleted = service.delete_batch(rule, sweep.as_of, batch_size)
            if not deleted:
                break
            service.note_batch(sweep, rule, deleted)
            db.session.commit()
            done += deleted
            report_progress(done, rule=rule.name)
            if on_batch is not None:
                on_batch(sweep, rule, deleted)
        service.rule_done(sweep, rule)
        db.session.commit()
    service.finish(sweep)
    db.session.commit()
    log.info("retention sweep %s finished: %s", sweep.id,
             {name: e["deleted"] for name, e in sweep.report["rules"].items()})
    return sweep


def retention_sweep() -> dict:
    """Job entry point: run the sweep; return the deleted counts per rule."""
    sweep = run_sweep()
    return {"sweep_id": str(sweep.id),
            "deleted": {name: entry["deleted"] for name, entry in sweep.report["rules"].items()}}


def sweep_is_due() -> bool:
    """Return whether the quarterly sweep should run: none yet, or the last finished a review interval ago."""
    if service.running_sweep() is not None:
        return False
    last = service.last_sweep()
    return last is None or last.finished_at + parse_period(review_interval()) <= clock.now()
