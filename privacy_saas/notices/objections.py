"""Objections as account-manager tasks: listed for staff, taken, resolved."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from privacy_saas import audit
from privacy_saas.audit.service import current_actor_label
from privacy_saas.errors import NotFound, invalid
from privacy_saas.extensions import db
from privacy_saas.notices.models import Notice, NoticeTask, SubprocessorChange
from privacy_saas.notices.validation import check_no_addresses
from privacy_saas.processor.tenants.models import Tenant


@dataclass
class TaskView:
    """A task with what staff need to act on it: the tenant, the notice and the change objected to."""

    task: NoticeTask
    tenant: Tenant
    notice: Notice
    change: SubprocessorChange


def _query():
    return (sa.select(NoticeTask, Tenant, Notice, SubprocessorChange)
            .join(Tenant, Tenant.id == NoticeTask.tenant_id)
            .join(Notice, sa.and_(Notice.tenant_id == NoticeTask.tenant_id, Notice.id == NoticeTask.notice_id))
            .join(SubprocessorChange, SubprocessorChange.id == Notice.change_id))


def list_tasks(status: str | None = "open") -> list[TaskView]:
    """Return objection tasks (open ones by default), oldest first."""
    query = _query().order_by(NoticeTask.created_at, NoticeTask.id)
    if status:
        query = query.where(NoticeTask.status == status)
    return [TaskView(*row) for row in db.session.execute(query).all()]


def get(task_id) -> TaskView:
    """Return one task, or raise NotFound."""
    row = db.session.execute(_query().where(NoticeTask.id == task_id)).one_or_none() if task_id else None
    if row is None:
        raise NotFound("no such task")
    return TaskView(*row)


def take(view: TaskView, staff_id) -> TaskView:
    """Assign the task to the staff member taking it."""
    view.task.take(staff_id)
    db.session.flush()
    audit.record("notice_task.take", tenant_id=view.tenant.id, targets=[view.task.id, view.notice.id])
    return view


def close(view: TaskView, resolution: str) -> TaskView:
    """Mark the task done with how the objection was resolved."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise invalid("say how the objection was resolved", resolution="required")
    check_no_addresses({"resolution": resolution})
    view.task.close(current_actor_label(), resolution)
    db.session.flush()
    audit.record("notice_task.close", tenant_id=view.tenant.id, targets=[view.task.id, view.notice.id])
    return view
