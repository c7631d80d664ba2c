"""Sub-processor changes: propose, publish with notice to each affected tenant, withdraw, apply on the date.

A change may take effect no earlier than today plus the longest notice owed to any tenant it
affects (Art. 28(2) and the tenant's `subprocessor_notice`). Until the day before, each tenant
may acknowledge or object; the scheduler applies it to the register on its date.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.audit.service import current_actor_label
from privacy_saas.errors import AppError, Conflict, NotFound, invalid
from privacy_saas.extensions import db
from privacy_saas.notices import delivery
from privacy_saas.notices.models import Notice, NoticeTask, SubprocessorChange
from privacy_saas.notices.validation import check_no_addresses
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.subprocessors import service as register
from privacy_saas.subprocessors.models import COUNTRY_CODE, Subprocessor
from privacy_saas.subprocessors.schemas import DATA_CATEGORIES

log = logging.getLogger(__name__)

#: Register-level actions are recorded on the vendor's platform chain; each tenant's step on its own.
AUDIT_SCOPE = register.AUDIT_SCOPE
#: Tenants whose data is held, so whom a change affects.
HOLDING = ("active", "ended")
#: What a change says about the sub-processor (`location` is optional: the country code stands in for it).
DESCRIBED = ("name", "purpose", "country", "transfer_mechanism")


def get(change_id, *, lock: bool = False) -> SubprocessorChange:
    """Return one change (locked, to change it: two staff publishing at once notify once), or raise NotFound."""
    change = db.session.get(SubprocessorChange, change_id, with_for_update=lock) if change_id is not None else None
    if change is None:
        raise NotFound("no such sub-processor change")
    return change


def list_changes(status: str | None = None) -> list[SubprocessorChange]:
    """Return changes, the next to take effect first."""
    query = sa.select(SubprocessorChange).order_by(SubprocessorChange.effective_on.desc(),
                                                   SubprocessorChange.proposed_at.desc())
    if status:
        query = query.where(SubprocessorChange.status == status)
    return list(db.session.scalars(query))


def _in_regions(regions):
    """Return the condition on tenants of `regions` (none listed: every region, as in the register)."""
    return Tenant.region.in_(regions) if regions else sa.true()


def affected_tenants(regions) -> list[Tenant]:
    """Return the tenants whose data is held in one of `regions` (none: all): the ones owed notice."""
    return list(db.session.scalars(sa.select(Tenant).where(Tenant.status.in_(HOLDING), _in_regions(regions))
                                   .order_by(Tenant.slug)))


@dataclass
class NoticeWindow:
    """The earliest day a change may take effect, and the tenant whose notice sets it (if any)."""

    earliest: date
    tenant: Tenant | None = None


def notice_window(regions, today: date | None = None) -> NoticeWindow:
    """Return today plus the longest notice owed to any tenant in `regions` (none: every region)."""
    today = today or clock.today()
    window = NoticeWindow(today)
    for tenant in affected_tenants(regions):
        ends = tenant.subprocessor_notice_ends(today)
        if ends > window.earliest:
            window = NoticeWindow(ends, tenant)
    return window


def _target(data: dict) -> Subprocessor | None:
    if data["action"] == "add":
        if data.get("subprocessor_id"):
            raise invalid("an addition names no register entry", subprocessor_id="only for replace or remove")
        return None
    if not data.get("subprocessor_id"):
        raise invalid(f"a {data['action']} names the register entry it changes",
                      subprocessor_id=f"required for {data['action']}")
    try:
        entry = register.get(data["subprocessor_id"])
    except NotFound:
        raise invalid("no such register entry", subprocessor_id="no such sub-processor") from None
    if entry.removed_at is not None:
        raise invalid("this register entry was removed", subprocessor_id="already removed from the register")
    pending = db.session.scalar(sa.select(SubprocessorChange.id).where(
        SubprocessorChange.subprocessor_id == entry.id, SubprocessorChange.status.in_(("draft", "published"))))
    if pending is not None:
        raise Conflict(f"change {pending} already concerns this register entry; withdraw it first",
                       code="change_pending")
    return entry


def propose(data: dict, *, publish: bool = True) -> SubprocessorChange:
    """Record an intended change (and publish it unless a draft is asked for)."""
    target = _target(data)
    if data["action"] == "remove":
        # Tenants are told what leaves, as the register has it.
        described = {"name": target.name, "purpose": target.purpose, "country": target.country,
                     "location": target.location, "transfer_mechanism": target.safeguards,
                     "data_categories": list(target.data_categories),
                     "data_category_labels": list(target.data_category_labels),
                     "tenant_regions": list(target.tenant_regions)}
    else:
        missing = [k for k in DESCRIBED if not (data.get(k) or "").strip()]
        if missing:
            raise AppError("the new sub-processor must be described", code="invalid_input",
                           errors={k: ["required for add and replace"] for k in missing})
        described = {k: data[k].strip() for k in DESCRIBED}
        described["country"] = described["country"].upper()
        if not re.fullmatch(COUNTRY_CODE, described["country"]):
            raise invalid("the country is an ISO 3166-1 alpha-2 code, as in the register",
                          country="an ISO 3166-1 alpha-2 code such as IE or US")
        unknown = sorted(set(data.get("data_categories") or []) - set(DATA_CATEGORIES))
        if unknown:
            raise invalid("unknown data categories", data_categories=f"not data-map categories: {', '.join(unknown)}; "
                                                                      f"known: {', '.join(DATA_CATEGORIES)}")
        described["location"] = (data.get("location") or "").strip() or described["country"]
        described["data_categories"] = sorted(set(data.get("data_categories") or []))
        described["data_category_labels"] = list(data.get("data_category_labels") or [])
        # A replacement serves the regions of the entry it replaces unless told otherwise.
        regions = data.get("tenant_regions")
        described["tenant_regions"] = sorted(set(regions if regions is not None else
                                                 (target.tenant_regions if target is not None else [])))
    check_no_addresses({**{k: described[k] for k in ("name", "purpose", "location", "transfer_mechanism")},
                        "data_categories": described["data_category_labels"]})
    if data["effective_on"] < clock.today():
        raise invalid("the effective date is in the past", effective_on="may not be in the past")
    change = SubprocessorChange(action=data["action"], subprocessor_id=target.id if target else None,
                                effective_on=data["effective_on"], proposed_by=current_actor_label(), **described)
    db.session.add(change)
    db.session.flush()
    audit.record("subprocessor_change.propose", scope=AUDIT_SCOPE, targets=[change.id] + ([target.id] if target else []),
                 detail={"action": change.action, "effective_on": change.effective_on.isoformat()})
    if publish:
        publish_change(change)
    return change


def content_of(change: SubprocessorChange) -> dict:
    """Return what a notice of `change` tells the tenant (fixed when sent)."""
    replaced = db.session.get(Subprocessor, change.subprocessor_id) if change.action == "replace" else None
    return {
        "title": {"add": f"New sub-processor: {change.name}", "replace": f"Sub-processor replaced by {change.name}",
                  "remove": f"Sub-processor leaving: {change.name}"}[change.action],
        "action": change.action, "name": change.name, "purpose": change.purpose, "country": change.country,
        "location": change.location, "transfer_mechanism": change.transfer_mechanism,
        # The data map's categories, then the words that name none, as given.
        "data_categories": [*change.data_categories, *change.data_category_labels],
        "replaces": replaced.name if replaced else None,
        "effective_on": change.effective_on.isoformat(),
        "answer_by": (change.effective_on - timedelta(days=1)).isoformat(),
    }


def _send_notice(change: SubprocessorChange, tenant: Tenant, content: dict, *, late: bool = False) -> Notice:
    notice = Notice(tenant_id=tenant.id, kind="subprocessor_change", change_id=change.id)
    notice.mark_sent(content, "email")
    db.session.add(notice)  # its id is set at construction: the callers flush once for every tenant
    audit.record("notice.send", tenant_id=tenant.id, targets=[notice.id, change.id],
                 detail={"kind": notice.kind, "effective_on": change.effective_on.isoformat(), "late": late})
    delivery.enqueue_notice(notice)
    return notice


def publish_change(change: SubprocessorChange) -> SubprocessorChange:
    """Publish a draft: check every affected tenant gets its notice, then notify each one."""
    window = notice_window(change.tenant_regions)
    if change.effective_on < window.earliest:
        owed = f"{window.tenant.slug} is owed {window.tenant.subprocessor_notice} of notice; " if window.tenant else ""
        raise AppError(f"effective_on {change.effective_on.isoformat()} is too early: {owed}the earliest allowed "
                       f"date is {window.earliest.isoformat()}", code="notice_period",
                       errors={"effective_on": [f"the earliest allowed date is {window.earliest.isoformat()}"]})
    change.publish(window.earliest)
    content = content_of(change)
    tenants = affected_tenants(change.tenant_regions)
    for tenant in tenants:
        _send_notice(change, tenant, content)
    db.session.flush()
    audit.record("subprocessor_change.publish", scope=AUDIT_SCOPE, targets=[change.id],
                 detail={"tenants": len(tenants), "effective_on": change.effective_on.isoformat(),
                         "earliest_allowed": window.earliest.isoformat()})
    log.info("sub-processor change %s published to %d tenants", change.id, len(tenants))
    return change


def notices_of(change: SubprocessorChange) -> list[Notice]:
    """Return the notices a change sent, one per tenant."""
    return list(db.session.scalars(sa.select(Notice).where(Notice.change_id == change.id)))


def withdraw(change: SubprocessorChange, reason: str) -> SubprocessorChange:
    """Withdraw a change before it takes effect: tenants are told, objections' tasks close."""
    reason = (reason or "").strip()
    if not reason:
        raise invalid("a withdrawal needs a reason", reason="required")
    check_no_addresses({"reason": reason})
    was_published = change.status == "published"
    change.withdraw(reason)
    notices = notices_of(change) if was_published else []
    for notice in notices:
        for task in db.session.scalars(sa.select(NoticeTask).where(
                NoticeTask.tenant_id == notice.tenant_id, NoticeTask.notice_id == notice.id,
                NoticeTask.status == "open")):
            task.close("system", "the change was withdrawn")
        audit.record("notice.withdrawn", tenant_id=notice.tenant_id, targets=[notice.id, change.id])
        delivery.enqueue_notice(notice, purpose="withdrawal")
    db.session.flush()
    audit.record("subprocessor_change.withdraw", scope=AUDIT_SCOPE, targets=[change.id],
                 detail={"tenants": len(notices)})
    return change


def _apply(change: SubprocessorChange) -> None:
    old = db.session.get(Subprocessor, change.subprocessor_id) if change.subprocessor_id else None
    if old is not None and old.removed_at is None:
        register.remove(old)
    new_id = None
    if change.action in ("add", "replace"):
        # A change is about tenants' data; a replacement also takes on whatever else the old entry received.
        scopes = {"processor", *(old.scopes if old is not None else ())}
        entry = register.add({"name": change.name, "purpose": change.purpose, "location": change.location,
                              "country": change.country, "safeguards": change.transfer_mechanism,
                              "data_categories": list(change.data_categories),
                              "data_category_labels": list(change.data_category_labels), "scopes": sorted(scopes),
                              "tenant_regions": list(change.tenant_regions)})
        new_id = entry.id
    change.mark_applied(new_id)
    db.session.flush()
    audit.record("subprocessor_change.apply", scope=AUDIT_SCOPE, targets=[change.id] + ([new_id] if new_id else []),
                 detail={"action": change.action})
    for notice in notices_of(change):
        audit.record("notice.change_applied", tenant_id=notice.tenant_id, targets=[notice.id, change.id],
                     detail={"answer": notice.answer or "none"})


def due_changes(today: date | None = None, *, lock: bool = False) -> list[SubprocessorChange]:
    """Return published changes whose effective date has come (locked, to apply them: sweeps may overlap)."""
    query = (sa.select(SubprocessorChange).where(SubprocessorChange.status == "published",
                                                 SubprocessorChange.effective_on <= (today or clock.today()))
             .order_by(SubprocessorChange.effective_on, SubprocessorChange.proposed_at))
    return list(db.session.scalars(query.with_for_update() if lock else query))


def apply_due(today: date | None = None) -> list[SubprocessorChange]:
    """Apply every published change whose date has come to the register (the scheduler's step)."""
    changes = due_changes(today, lock=True)
    for change in changes:
        _apply(change)
        log.info("sub-processor change %s applied to the register", change.id)
    return changes


def notify_latecomers(today: date | None = None) -> int:
    """Notify tenants created after a change was published (their notice is shorter than their contract's)."""
    today = today or clock.today()
    sent = 0
    # Locked like a publication, so a sweep and a publication never notify a tenant twice.
    pending = db.session.scalars(sa.select(SubprocessorChange).where(
        SubprocessorChange.status == "published", SubprocessorChange.effective_on > today).with_for_update())
    for change in pending:
        untold = db.session.scalars(sa.select(Tenant).where(
            Tenant.status.in_(HOLDING), _in_regions(change.tenant_regions),
            ~sa.exists().where(Notice.change_id == change.id, Notice.tenant_id == Tenant.id)).order_by(Tenant.slug)).all()
        content = content_of(change) if untold else None
        for tenant in untold:
            _send_notice(change, tenant, content, late=True)
            sent += 1
    db.session.flush()
    return sent


@dataclass
class Answer:
    """One tenant's answer to a change, for staff."""

    tenant: Tenant
    notice: Notice
    tasks: list[NoticeTask]


def answers(change: SubprocessorChange) -> list[Answer]:
    """Return, per tenant told, its answer (acknowledged, objected and why, or silent) and objection tasks."""
    rows = db.session.execute(sa.select(Notice, Tenant).join(Tenant, Tenant.id == Notice.tenant_id)
                              .where(Notice.change_id == change.id).order_by(Tenant.slug)).all()
    tasks: dict = {}
    if rows:
        for task in db.session.scalars(sa.select(NoticeTask).where(
                NoticeTask.notice_id.in_([notice.id for notice, _ in rows])).order_by(NoticeTask.created_at)):
            tasks.setdefault(task.notice_id, []).append(task)
    return [Answer(tenant, notice, tasks.get(notice.id, [])) for notice, tenant in rows]
