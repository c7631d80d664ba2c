"""A tenant's side of its notices: list, acknowledge, object (sub-processor changes, until the day before).

Every call names the tenant: another tenant's notice is not found, whatever its id.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from privacy_saas import audit, clock
from privacy_saas.errors import Conflict, NotFound, invalid
from privacy_saas.extensions import db
from privacy_saas.notices.models import Notice, NoticeTask, SubprocessorChange
from privacy_saas.processor.tenants.gates import ensure_readable
from privacy_saas.processor.tenants.models import Tenant

MIN_REASON, MAX_REASON = 3, 2000


def list_for(tenant: Tenant) -> list[Notice]:
    """Return the notices sent to the tenant, newest first."""
    ensure_readable(tenant)
    return list(db.session.scalars(sa.select(Notice).where(Notice.tenant_id == tenant.id, Notice.sent_at.is_not(None))
                                   .order_by(Notice.sent_at.desc(), Notice.id.desc())))


def get(tenant: Tenant, notice_id, *, lock: bool = False) -> Notice:
    """Return one of the tenant's sent notices (locked, to answer it); another tenant's, or one not sent, is NotFound."""
    ensure_readable(tenant)
    notice = db.session.get(Notice, (tenant.id, notice_id), with_for_update=lock) if notice_id is not None else None
    if notice is None or not notice.sent:
        raise NotFound("no such notice")
    return notice


def change_of(notice: Notice) -> SubprocessorChange | None:
    """Return the sub-processor change a notice announced (none for a breach notice)."""
    return db.session.get(SubprocessorChange, notice.change_id) if notice.change_id else None


def can_answer(notice: Notice) -> bool:
    """Return whether the tenant may still answer: a change until the day before it takes effect; a breach always."""
    if notice.kind == "breach":
        return True
    return change_of(notice).open_for_answers()


def can_object(notice: Notice) -> bool:
    """Return whether the tenant may object now (a change it has not objected to, its window open)."""
    return notice.kind == "subprocessor_change" and notice.answer != "objected" and can_answer(notice)


def needs_attention(tenant: Tenant) -> list[Notice]:
    """Return the notices waiting for the tenant: open changes not yet answered, breaches not acknowledged."""
    today = clock.today()
    rows = db.session.execute(
        sa.select(Notice, SubprocessorChange).outerjoin(SubprocessorChange, SubprocessorChange.id == Notice.change_id)
        .where(Notice.tenant_id == tenant.id, Notice.sent_at.is_not(None), Notice.answer.is_(None))
        .order_by(Notice.sent_at.desc())).all()
    return [n for n, change in rows if change is None or change.open_for_answers(today)]


def _check_window(notice: Notice) -> None:
    change = change_of(notice)
    if change is None:
        return
    if change.status == "withdrawn":
        raise Conflict("this change was withdrawn: nothing to answer", code="change_withdrawn")
    if not change.open_for_answers():
        last = change.effective_on - timedelta(days=1)
        raise Conflict(f"answers were taken until {last.isoformat()}: the change took effect on "
                       f"{change.effective_on.isoformat()}", code="objection_window_closed")


def _open_tasks(notice: Notice) -> list[NoticeTask]:
    return list(db.session.scalars(sa.select(NoticeTask).where(
        NoticeTask.tenant_id == notice.tenant_id, NoticeTask.notice_id == notice.id, NoticeTask.status == "open")))


def acknowledge(tenant: Tenant, notice: Notice, by: str) -> Notice:
    """Record the tenant's acknowledgement; for a change it withdraws an earlier objection."""
    _check_window(notice)
    withdrawn = notice.answer == "objected"
    if notice.acknowledge(by):
        for task in _open_tasks(notice):
            task.close("system", "the tenant withdrew its objection")
        db.session.flush()
        audit.record("notice.acknowledge", tenant_id=tenant.id, targets=[notice.id, notice.change_id or notice.breach_id],
                     detail={"kind": notice.kind, "objection_withdrawn": withdrawn})
    return notice


def object_to(tenant: Tenant, notice: Notice, by: str, reason: str) -> NoticeTask:
    """Record the tenant's objection to a sub-processor change; its account manager gets a task."""
    reason = (reason or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise invalid("an objection needs its reasons", reason=f"{MIN_REASON} to {MAX_REASON} characters")
    _check_window(notice)
    notice.object(by, reason)
    task = NoticeTask(tenant_id=tenant.id, notice_id=notice.id)
    db.session.add(task)
    db.session.flush()
    audit.record("notice.object", tenant_id=tenant.id, targets=[notice.id, notice.change_id, task.id],
                 detail={"kind": notice.kind})
    return task
