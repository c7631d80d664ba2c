"""The breach register: record once, notify each affected tenant by its own deadline, keep Art. 33(5) records.

Processor scope (tenants' data): each affected tenant's first notice is due `breach_notice` after
the vendor became aware (Art. 33(2)); staff send it when they have the information, in phases
if need be (Art. 33(4)). Controller scope (the vendor's own contacts): the supervisory authority
is due within 72 hours (Art. 33(1)), and the notification or the reasoned decision not to
notify is recorded (Art. 33(5)), as is whether data subjects must be told (Art. 34).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.audit.service import current_actor_label
from privacy_saas.errors import Conflict, NotFound, invalid
from privacy_saas.extensions import db
from privacy_saas.notices import delivery
from privacy_saas.notices.mails import dpo_contact
from privacy_saas.notices.models import AUTHORITY_DEADLINE, Breach, BreachUpdate, Notice
from privacy_saas.notices.validation import check_no_addresses
from privacy_saas.processor.tenants.models import Tenant

log = logging.getLogger(__name__)

#: Processor breaches are the vendor's record, on its platform chain; controller ones on the controller chain.
AUDIT_SCOPES = {"processor": "platform", "controller": "controller"}
#: What a breach says, each field changeable by a later update (Art. 33(4)).
DESCRIPTION = ("nature", "data_categories", "subject_categories", "approx_subjects", "approx_records",
               "consequences", "measures", "measures_proposed")
TEXT = ("nature", "consequences", "measures", "measures_proposed", "data_categories", "subject_categories")
#: The scheduler warns staff this long before a deadline (at most half the tenant's notice period).
WARN_BEFORE = timedelta(hours=12)


def _stamp(moment: datetime) -> str:
    """Return a UTC instant as the audit log's detail may hold it (`2026-03-02T09:00:00Z`)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def get(breach_id, *, lock: bool = False) -> Breach:
    """Return one breach (locked, to act on it: notifications and update phases are never sent twice), or NotFound."""
    breach = db.session.get(Breach, breach_id, with_for_update=lock) if breach_id is not None else None
    if breach is None:
        raise NotFound("no such breach")
    return breach


def list_breaches(scope: str | None = None) -> list[Breach]:
    """Return the register, most recently discovered first."""
    query = sa.select(Breach).order_by(Breach.aware_at.desc(), Breach.id.desc())
    if scope:
        query = query.where(Breach.scope == scope)
    return list(db.session.scalars(query))


def _held_between(start: date, end: date) -> list[Tenant]:
    """Return the tenants whose data was held at some time between two days: created by then, not yet purged."""
    until = datetime.combine(end + timedelta(days=1), time(), tzinfo=timezone.utc)
    since = datetime.combine(start, time(), tzinfo=timezone.utc)
    return list(db.session.scalars(sa.select(Tenant).where(
        Tenant.created_at < until, sa.or_(Tenant.purged_at.is_(None), Tenant.purged_at >= since))
        .order_by(Tenant.slug)))


def _affected(data: dict) -> list[Tenant]:
    slugs, start, end = data.get("tenants") or [], data.get("held_from"), data.get("held_to")
    if data["scope"] == "controller":
        if slugs or start or end:
            raise invalid("a controller-scope breach concerns the vendor's own data, no tenant's",
                          tenants="only for processor scope")
        return []
    if bool(slugs) == bool(start or end):
        raise invalid("name the affected tenants, or the period in which their data was held",
                      tenants="give tenants, or held_from and held_to")
    if slugs:
        found = {t.slug: t for t in db.session.scalars(sa.select(Tenant).where(Tenant.slug.in_(set(slugs))))}
        unknown = sorted(set(slugs) - set(found))
        if unknown:
            raise invalid("unknown tenants", tenants=f"no such tenant: {', '.join(unknown)}")
        return sorted(found.values(), key=lambda t: t.slug)
    if not (start and end) or start > end:
        raise invalid("the period needs both days, in order", held_from="held_from on or before held_to")
    tenants = _held_between(start, end)
    if not tenants:
        raise invalid("no tenant's data was held in that period", held_from="no tenant in this period")
    return tenants


def _check_times(occurred_at: datetime, aware_at: datetime) -> None:
    if aware_at > clock.now():
        raise invalid("the vendor cannot have become aware in the future", aware_at="may not be in the future")
    if occurred_at > aware_at:
        raise invalid("a breach is discovered after it happens", occurred_at="must not be after aware_at")


def record(data: dict, *, notify: bool = False) -> Breach:
    """Record a breach; for processor scope each affected tenant gets a notice with its own deadline.

    With `notify`, every affected tenant is sent its first notice at once.
    """
    _check_times(data["occurred_at"], data["aware_at"])
    check_no_addresses({k: data.get(k) for k in TEXT})
    tenants = _affected(data)
    breach = Breach(scope=data["scope"], occurred_at=data["occurred_at"], aware_at=data["aware_at"],
                    recorded_by=current_actor_label(), held_from=data.get("held_from"), held_to=data.get("held_to"),
                    **{k: data.get(k) for k in DESCRIPTION})
    if breach.scope == "controller":
        breach.authority_deadline = breach.aware_at + AUTHORITY_DEADLINE
    db.session.add(breach)
    db.session.flush()
    for tenant in tenants:
        # A Notice has its id from construction (it seals with it): one flush for them all, below.
        notice = Notice(tenant_id=tenant.id, kind="breach", breach_id=breach.id, phase=1,
                        deadline=tenant.breach_deadline(breach.aware_at))
        db.session.add(notice)
        audit.record("breach.affected", tenant_id=tenant.id, targets=[notice.id, breach.id],
                     detail={"deadline": _stamp(notice.deadline)})
    db.session.flush()
    audit.record("breach.record", scope=AUDIT_SCOPES[breach.scope], targets=[breach.id],
                 detail={"scope": breach.scope, "tenants": len(tenants)})
    log.warning("breach %s recorded (%s scope, %d tenants)", breach.id, breach.scope, len(tenants))
    if notify and tenants:
        notify_tenants(breach)
    return breach


def content_of(breach: Breach) -> dict:
    """Return what a first breach notice tells a tenant now (Art. 33(3)); fixed into the notice when sent."""
    return {"title": "Personal data breach", "breach_id": str(breach.id),
            "occurred_at": breach.occurred_at.isoformat(), "aware_at": breach.aware_at.isoformat(),
            **{k: getattr(breach, k) for k in DESCRIPTION}, "contact": dpo_contact()}


def _initial_notices(breach: Breach) -> list[Notice]:
    return list(db.session.scalars(sa.select(Notice).where(Notice.breach_id == breach.id, Notice.phase == 1)))


def notify_tenants(breach: Breach, slugs=None, channel: str = "email") -> list[Notice]:
    """Send the first notice to affected tenants not yet notified, or whose mail reached nobody (all, or those named)."""
    if breach.scope != "processor":
        raise Conflict("a controller-scope breach notifies the supervisory authority, not tenants",
                       code="controller_breach")
    rows = db.session.execute(sa.select(Notice, Tenant.slug).join(Tenant, Tenant.id == Notice.tenant_id)
                              .where(Notice.breach_id == breach.id, Notice.phase == 1)).all()
    if slugs:
        unknown = sorted(set(slugs) - {slug for _, slug in rows})
        if unknown:
            raise invalid("these tenants are not affected by this breach", tenants=", ".join(unknown))
        rows = [(n, slug) for n, slug in rows if slug in set(slugs)]
    pending = [n for n, _ in rows if n.sendable]
    if not pending:
        raise Conflict("every tenant named was already notified (or its mail is on its way); send an update "
                       "for new information", code="already_notified")
    content = content_of(breach)
    for notice in pending:
        notice.mark_sent(content, channel)
        audit.record("breach.notify", tenant_id=notice.tenant_id, targets=[notice.id, breach.id],
                     detail={"channel": channel, "late": notice.sent_at > notice.deadline})
        if channel == "email":
            delivery.enqueue_notice(notice)
    db.session.flush()
    return pending


def add_update(breach: Breach, summary: str, changes: dict) -> BreachUpdate:
    """Give more information (Art. 33(4)): update the record and send it to every tenant already notified."""
    summary = (summary or "").strip()
    if not summary:
        raise invalid("an update says what is new", summary="required")
    changes = {k: v for k, v in changes.items() if k in DESCRIPTION and v != getattr(breach, k)}
    check_no_addresses({"summary": summary, **{k: v for k, v in changes.items() if k in TEXT}})
    for name, value in changes.items():
        setattr(breach, name, value)
    breach.updated_at = clock.now()
    phase = 1 + (db.session.scalar(sa.select(sa.func.max(BreachUpdate.phase)).where(
        BreachUpdate.breach_id == breach.id)) or 1)
    update = BreachUpdate(breach_id=breach.id, phase=phase, created_by=current_actor_label(), summary=summary,
                          changes=changes)
    db.session.add(update)
    db.session.flush()
    audit.record("breach.update", scope=AUDIT_SCOPES[breach.scope], targets=[breach.id, update.id],
                 detail={"phase": phase, "fields": sorted(changes)})
    for first in _initial_notices(breach):
        if not first.sent:
            continue  # its first notice, when sent, will say all of this
        notice = Notice(tenant_id=first.tenant_id, kind="breach", breach_id=breach.id, phase=phase)
        notice.mark_sent({"title": f"Personal data breach: update {phase - 1}", "breach_id": str(breach.id),
                          "phase": phase, "summary": summary, "changes": changes,
                          "first_notice_on": first.sent_at.date().isoformat()}, "email")
        db.session.add(notice)
        audit.record("breach.notify", tenant_id=notice.tenant_id, targets=[notice.id, breach.id],
                     detail={"channel": "email", "phase": phase})
        delivery.enqueue_notice(notice)
    db.session.flush()
    return update


def updates_of(breach: Breach) -> list[BreachUpdate]:
    """Return a breach's updates in order."""
    return list(db.session.scalars(sa.select(BreachUpdate).where(BreachUpdate.breach_id == breach.id)
                                   .order_by(BreachUpdate.phase)))


def decide_authority(breach: Breach, decision: str, *, reason: str | None = None,
                     notified_at: datetime | None = None, reference: str | None = None) -> Breach:
    """Record the supervisory authority's notification (with why it was late, if so) or why not (Art. 33(5))."""
    breach.ensure_controller_scope()
    reason = (reason or "").strip() or None
    if decision == "notify":
        notified_at = notified_at or clock.now()
        if notified_at > clock.now() or notified_at < breach.aware_at:
            raise invalid("the notification is dated between awareness and now", notified_at="out of range")
        if notified_at > breach.authority_deadline and not reason:
            raise invalid("a notification after 72 hours must give the reasons for the delay (Art. 33(1))",
                          reason="required: the reasons for the delay")
    else:
        if not reason:
            raise invalid("a decision not to notify must be reasoned (Art. 33(5))",
                          reason="required: why the breach is unlikely to result in a risk")
        notified_at = reference = None
    check_no_addresses({"reason": reason, "reference": reference})
    breach.decide_authority(decision, current_actor_label(), reason=reason, notified_at=notified_at,
                            reference=(reference or "").strip() or None)
    db.session.flush()
    audit.record("breach.authority", scope=AUDIT_SCOPES[breach.scope], targets=[breach.id],
                 detail={"decision": decision,
                         "late": bool(notified_at and notified_at > breach.authority_deadline)})
    return breach


def decide_subjects(breach: Breach, decision: str, *, reason: str | None = None,
                    informed_at: datetime | None = None) -> Breach:
    """Record whether the data subjects must be told of the breach (Art. 34) and, once done, when."""
    breach.ensure_controller_scope()
    reason = (reason or "").strip() or None
    if decision == "not_required" and not reason:
        raise invalid("say why the data subjects need not be told (Art. 34(1) or (3))", reason="required")
    if decision == "not_required" and informed_at:
        raise invalid("subjects not to be told were not told", informed_at="only with decision inform")
    if informed_at and (informed_at > clock.now() or informed_at < breach.aware_at):
        raise invalid("the subjects were told between awareness and now", informed_at="out of range")
    check_no_addresses({"reason": reason})
    breach.decide_subjects(decision, reason=reason, informed_at=informed_at)
    db.session.flush()
    audit.record("breach.subjects", scope=AUDIT_SCOPES[breach.scope], targets=[breach.id],
                 detail={"decision": decision, "informed": informed_at is not None})
    return breach


@dataclass
class Notification:
    """One tenant's notices of a breach, for staff: the first (with its deadline) and the updates sent."""

    tenant: Tenant
    first: Notice
    updates: list[Notice]


def notifications(breach: Breach) -> list[Notification]:
    """Return each affected tenant's notification state, by tenant slug."""
    rows = db.session.execute(sa.select(Notice, Tenant).join(Tenant, Tenant.id == Notice.tenant_id)
                              .where(Notice.breach_id == breach.id).order_by(Tenant.slug, Notice.phase)).all()
    out: dict = {}
    for notice, tenant in rows:
        if notice.phase == 1:
            out[tenant.id] = Notification(tenant, notice, [])
        else:
            out[tenant.id].updates.append(notice)
    return list(out.values())


@dataclass
class Overdue:
    """A deadline passed with nobody told: a tenant's breach notice, or the supervisory authority."""

    breach: Breach
    deadline: datetime
    tenant: Tenant | None = None
    notice: Notice | None = None

    @property
    def whom(self) -> str:
        return self.tenant.slug if self.tenant is not None else "supervisory authority"


def _pending_notices(until: datetime):
    """Yield (notice, tenant, breach) for first breach notices not delivered whose deadline is before `until`."""
    return db.session.execute(
        sa.select(Notice, Tenant, Breach).join(Tenant, Tenant.id == Notice.tenant_id)
        .join(Breach, Breach.id == Notice.breach_id)
        .where(Notice.kind == "breach", Notice.phase == 1, Notice.delivered_at.is_(None), Notice.deadline < until)
        .order_by(Notice.deadline, Tenant.slug)).all()


def _undecided_authority(until: datetime) -> list[Breach]:
    return list(db.session.scalars(sa.select(Breach).where(
        Breach.scope == "controller", Breach.authority_decision.is_(None), Breach.authority_deadline < until)
        .order_by(Breach.authority_deadline)))


def overdue(now: datetime | None = None) -> list[Overdue]:
    """Return every deadline passed with nobody told, the longest overdue first."""
    now = now or clock.now()
    items = [Overdue(breach, notice.deadline, tenant, notice) for notice, tenant, breach in _pending_notices(now)]
    items += [Overdue(breach, breach.authority_deadline) for breach in _undecided_authority(now)]
    return sorted(items, key=lambda item: (item.deadline, item.whom))


def _warn_from(deadline: datetime, aware_at: datetime) -> datetime:
    return deadline - min(WARN_BEFORE, (deadline - aware_at) / 2)


def deadline_alerts(now: datetime | None = None) -> tuple[list[Overdue], list[Overdue]]:
    """Return the deadlines to warn about now (near, not yet warned) and to alert as passed (not yet alerted)."""
    now = now or clock.now()
    near, passed = [], []
    for notice, tenant, breach in _pending_notices(now + WARN_BEFORE):
        item = Overdue(breach, notice.deadline, tenant, notice)
        if notice.deadline <= now:
            if notice.overdue_alerted_at is None:
                passed.append(item)
        elif notice.warned_at is None and now >= _warn_from(notice.deadline, breach.aware_at):
            near.append(item)
    for breach in _undecided_authority(now + WARN_BEFORE):
        item = Overdue(breach, breach.authority_deadline)
        if breach.authority_deadline <= now:
            if breach.overdue_alerted_at is None:
                passed.append(item)
        elif breach.warned_at is None and now >= _warn_from(breach.authority_deadline, breach.aware_at):
            near.append(item)
    return near, passed


def mark_alerted(item: Overdue, *, passed: bool) -> None:
    """Record that staff were warned about `item`, so the scheduler warns once."""
    holder = item.notice if item.notice is not None else item.breach
    if passed:
        holder.overdue_alerted_at = clock.now()
    else:
        holder.warned_at = clock.now()
    audit.record("breach.deadline_passed" if passed else "breach.deadline_near",
                 tenant_id=item.tenant.id if item.tenant else None,
                 scope=None if item.tenant else AUDIT_SCOPES[item.breach.scope],
                 targets=[item.breach.id] + ([item.notice.id] if item.notice else []),
                 actor=("system", None), detail={"deadline": _stamp(item.deadline)})
