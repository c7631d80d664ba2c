"""Retention sweeps: what is due, deleting one batch, claiming and finishing a sweep.

These functions flush; `privacy_saas.controller.tasks` runs the loop and commits per batch.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from privacy_saas import audit, clock
from privacy_saas.controller.contacts.models import Contact, ConsentEvent
from privacy_saas.controller.records.models import WebsiteActivity
from privacy_saas.controller.retention.models import RetentionSweep
from privacy_saas.controller.retention.rules import Rule, active_rules, parse_period, review_interval
from privacy_saas.errors import Conflict
from privacy_saas.extensions import db

log = logging.getLogger(__name__)

#: A running sweep silent for longer than this is presumed dead and may be taken over.
DEFAULT_LEASE = timedelta(minutes=15)


class SweepBusy(Conflict):
    code = "sweep_running"


@dataclass
class RulePlan:
    """What one rule deletes (or would delete) and why."""

    name: str
    period: str
    cutoff: datetime
    why: str
    count: int


@dataclass
class Preview:
    """A dry run: counts per rule, nothing written."""

    as_of: datetime
    rules: list[RulePlan] = field(default_factory=list)
    review_due: int = 0
    held_restricted: int = 0


def _due(rule: Rule, as_of: datetime, earlier: list[Rule]):
    """Return the condition of rows `rule` deletes that no earlier rule on the same table took."""
    condition = rule.condition(rule.cutoff(as_of))
    for other in earlier:
        if other.model is rule.model:
            condition = sa.and_(condition, sa.not_(other.condition(other.cutoff(as_of))))
    return condition


def _count(model, condition) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(condition))


def review_due(as_of: datetime) -> int:
    """Return how many contacts have not been reviewed within the review interval."""
    cutoff = as_of - parse_period(review_interval())
    return _count(Contact, sa.func.coalesce(Contact.last_reviewed_at, Contact.created_at) < cutoff)


def held_restricted(as_of: datetime) -> int:
    """Return how many rows the rules keep although past their period (restricted processing)."""
    total = 0
    by_model: dict[type, list] = {}
    for rule in active_rules():
        condition = rule.held_condition(rule.cutoff(as_of))
        if condition is not None:
            by_model.setdefault(rule.model, []).append(condition)
    for model, conditions in by_model.items():
        total += _count(model, sa.or_(*conditions))
    return total


def preview(as_of: datetime | None = None) -> Preview:
    """Count what a sweep would delete now, per rule; writes nothing."""
    as_of = as_of or clock.now()
    result = Preview(as_of=as_of)
    rules = active_rules()
    for index, rule in enumerate(rules):
        result.rules.append(RulePlan(rule.name, rule.period, rule.cutoff(as_of), rule.explain(as_of),
                                     _count(rule.model, _due(rule, as_of, rules[:index]))))
    result.review_due = review_due(as_of)
    result.held_restricted = held_restricted(as_of)
    return result


def delete_batch(rule: Rule, as_of: datetime, batch_size: int) -> int:
    """Delete up to `batch_size` rows due under `rule`; return how many."""
    ids = db.session.scalars(sa.select(rule.model.id).where(rule.condition(rule.cutoff(as_of)))
                             .order_by(rule.model.id).limit(batch_size)).all()
    if not ids:
        return 0
    if rule.model is Contact:
        # Explicit rather than trusting ON DELETE on every backend: the consent log goes with
        # the contact; website activity stays until its own rule, unlinked.
        db.session.execute(sa.delete(ConsentEvent).where(ConsentEvent.contact_id.in_(ids)))
        db.session.execute(sa.update(WebsiteActivity).where(WebsiteActivity.contact_id.in_(ids))
                           .values(contact_id=None))
    db.session.execute(sa.delete(rule.model).where(rule.model.id.in_(ids)), execution_options={
        "synchronize_session": False})
    return len(ids)


def lease() -> timedelta:
    """Return how long a silent running sweep keeps its claim."""
    return timedelta(seconds=current_app.config.get("CONTROLLER_SWEEP_LEASE_SECONDS", DEFAULT_LEASE.total_seconds()))


def claim() -> RetentionSweep:
    """Start a sweep, or take over one whose worker died; raise SweepBusy when one is alive."""
    running = db.session.scalar(sa.select(RetentionSweep).where(RetentionSweep.running == "running"))
    now = clock.now()
    if running is not None:
        if running.heartbeat_at > now - lease():
            raise SweepBusy(f"retention sweep {running.id} is running (last heartbeat "
                            f"{running.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC)")
        running.resumed += 1
        running.heartbeat()
        db.session.flush()
        log.warning("retention sweep %s taken over (resumed %d time(s))", running.id, running.resumed)
        return running
    rules = active_rules()
    sweep = RetentionSweep(as_of=now, started_at=now, heartbeat_at=now, rules_done=[], report={
        "rules": {rule.name: {"period": rule.period, "cutoff": rule.cutoff(now).isoformat(),
                              "why": rule.explain(now), "deleted": 0} for rule in rules}})
    db.session.add(sweep)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise SweepBusy("another retention sweep started just now") from None
    return sweep


def sweep_rules(sweep: RetentionSweep) -> list[Rule]:
    """Return the rules of `sweep` still to run (the rules it started with, minus those done)."""
    planned = sweep.report.get("rules", {})
    # A resumed sweep keeps the periods it started with, even if the configuration changed since.
    return [replace(rule, period=planned[rule.name]["period"]) for rule in active_rules()
            if rule.name in planned and rule.name not in sweep.rules_done]


def note_batch(sweep: RetentionSweep, rule: Rule, deleted: int) -> None:
    """Add a batch's deletions to the report and renew the lease."""
    report = {**sweep.report, "rules": {**sweep.report["rules"]}}
    entry = dict(report["rules"][rule.name])
    entry["deleted"] += deleted
    report["rules"][rule.name] = entry
    sweep.report = report
    sweep.heartbeat()
    db.session.flush()


def rule_done(sweep: RetentionSweep, rule: Rule) -> None:
    """Checkpoint: `rule` has nothing left to delete in this sweep."""
    sweep.rules_done = [*sweep.rules_done, rule.name]
    sweep.heartbeat()
    db.session.flush()


def finish(sweep: RetentionSweep) -> RetentionSweep:
    """Close the sweep with its review figures and audit it."""
    sweep.report = {**sweep.report, "review_due": review_due(sweep.as_of),
                    "held_restricted": held_restricted(sweep.as_of)}
    sweep.finish()
    deleted = {name: entry["deleted"] for name, entry in sweep.report["rules"].items()}
    audit.record("retention.sweep", scope="controller", targets=[sweep.id], actor=("system", None),
                 detail={"deleted": deleted, "resumed": sweep.resumed})
    db.session.flush()
    return sweep


def last_sweep() -> RetentionSweep | None:
    """Return the most recent finished sweep."""
    return db.session.scalar(sa.select(RetentionSweep).where(RetentionSweep.finished_at.is_not(None))
                             .order_by(RetentionSweep.finished_at.desc(), RetentionSweep.id.desc()).limit(1))


def running_sweep() -> RetentionSweep | None:
    """Return the sweep in progress, if any."""
    return db.session.scalar(sa.select(RetentionSweep).where(RetentionSweep.running == "running"))
