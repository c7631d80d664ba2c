"""Intake, lookup, routing, decisions, deadlines and execution of data-subject requests."""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from privacy_saas import audit, clock
from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.controller.contacts.models import Contact
from privacy_saas.controller.contacts.validation import clean_email
from privacy_saas.errors import Conflict, Forbidden, NotFound, invalid
from privacy_saas.extensions import db
from privacy_saas.jobs.queue import enqueue
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.processor.tenants.gates import HOLDING
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.usage import service as usage
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users.models import RegisteredUser
from privacy_saas.rights.models import CHANNELS, KINDS, DataSubjectRequest, DsrTask

log = logging.getLogger(__name__)

SCOPE = "controller"
#: Fields a rectification may change, per scope.
CONTACT_FIELDS = ("name", "phone", "job_title")
RECTIFIABLE = users.RECTIFIABLE + CONTACT_FIELDS
MAX_EXTENSION_MONTHS = 2
DUE_SOON = timedelta(days=7)


def due_date(received_at, extended_months: int | None = None):
    """Return the deadline: one month after receipt, plus any extension."""
    return received_at + relativedelta(months=1 + (extended_months or 0))


# -- lookup ------------------------------------------------------------------------------------

@dataclass
class Matches:
    """Where an e-mail address is held: ids only, nothing decrypted."""

    contact_id: uuid.UUID | None = None
    #: (tenant_id, user_id) pairs.
    users: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    #: Tenants whose index key is gone (crypto-shredded): nothing of theirs can be found or read.
    unsearchable_tenants: int = 0

    @property
    def count(self) -> int:
        return int(self.contact_id is not None) + len(self.users)


def lookup(email: str) -> Matches:
    """Find the subject by blind index among contacts and in every live tenant's users."""
    contact = contacts.find_by_email(email)
    held, unsearchable = users.find_everywhere(email)
    return Matches(contact_id=contact.id if contact is not None else None, users=held,
                   unsearchable_tenants=unsearchable)


# -- intake ------------------------------------------------------------------------------------

def _check_intake(kind: str, email: str, channel: str, changes: dict | None) -> str:
    if kind not in KINDS:
        raise invalid(f"unknown kind {kind!r}", kind=f"must be one of {', '.join(KINDS)}")
    if channel not in CHANNELS:
        raise invalid(f"unknown channel {channel!r}", channel=f"must be one of {', '.join(CHANNELS)}")
    try:
        email = clean_email(email or "")
    except ValueError as exc:
        raise invalid("the e-mail address is invalid", email=str(exc)) from None
    if kind == "rectify":
        if not changes:
            raise invalid("a rectification needs the changes", changes="required for rectify")
        unknown = sorted(set(changes) - set(RECTIFIABLE))
        if unknown:
            raise invalid("these fields cannot be rectified", changes=f"unknown fields: {', '.join(unknown)}")
        bad = sorted(k for k, v in changes.items() if v is not None and (not isinstance(v, str) or len(v) > 200))
        if bad:
            raise invalid("rectified values must be text of at most 200 characters",
                          changes=f"bad values: {', '.join(bad)}")
    elif changes:
        raise invalid("changes are only for rectify requests", changes="only for rectify")
    return email


def receive(kind: str, email: str, channel: str, recorded_by: str, notes: str | None = None,
            changes: dict | None = None) -> DataSubjectRequest:
    """Record a request, look the subject up in every scope and fan it out into tasks and instructions."""
    email = _check_intake(kind, email, channel, changes)
    ensure_ready()
    now = clock.now()
    request = DataSubjectRequest(kind=kind, channel=channel, received_at=now, due_at=due_date(now),
                                 recorded_by=recorded_by, email=email, notes=notes or None,
                                 changes=changes if kind == "rectify" else None)
    db.session.add(request)
    matches = lookup(email)
    if matches.contact_id is not None:
        request.tasks.append(DsrTask(scope="controller", subject_id=matches.contact_id))
    for tenant_id, user_id in matches.users:
        request.tasks.append(DsrTask(scope="processor", tenant_id=tenant_id, subject_id=user_id))
    request.match_count = matches.count
    request.routed_tenants = sorted({str(tenant_id) for tenant_id, _ in matches.users}) or None
    db.session.flush()
    audit.record("dsr.receive", scope=SCOPE, targets=[request.id, *(t.id for t in request.tasks)][:50],
                 detail={"kind": kind, "channel": channel, "matches": matches.count,
                         "tenants": len(matches.users), "unsearchable_tenants": matches.unsearchable_tenants})
    for task in request.tasks:
        if task.scope == "processor":
            audit.record("dsr.instruction.create", tenant_id=task.tenant_id,
                         targets=[task.id, request.id, task.subject_id], detail={"kind": kind})
    return request


def get(request_id) -> DataSubjectRequest:
    """Return a request, or raise NotFound."""
    request = db.session.get(DataSubjectRequest, request_id)
    if request is None:
        raise NotFound("no such request")
    return request


def list_requests(*, overdue: bool = False, status: str | None = None) -> list[DataSubjectRequest]:
    """Return requests by deadline (overdue: open and past due)."""
    query = sa.select(DataSubjectRequest).order_by(DataSubjectRequest.due_at, DataSubjectRequest.id)
    if overdue:
        query = query.where(DataSubjectRequest.status == "open", DataSubjectRequest.due_at < clock.now())
    elif status:
        query = query.where(DataSubjectRequest.status == status)
    return list(db.session.scalars(query))


def dashboard() -> dict:
    """Return open requests split into overdue, due within 7 days, and later."""
    now = clock.now()
    groups = {"overdue": [], "due_soon": [], "open": []}
    for request in list_requests(status="open"):
        if request.due_at < now:
            groups["overdue"].append(request)
        elif request.due_at < now + DUE_SOON:
            groups["due_soon"].append(request)
        else:
            groups["open"].append(request)
    return groups


def extend(request: DataSubjectRequest, months: int, reason: str) -> DataSubjectRequest:
    """Extend the deadline once, by one or two months, with a reason (Art. 12(3))."""
    if request.status != "open":
        raise Conflict("a closed request cannot be extended", code="request_closed")
    if request.extended_months:
        raise Conflict("the deadline has already been extended once", code="already_extended")
    if months not in range(1, MAX_EXTENSION_MONTHS + 1):
        raise invalid("an extension is one or two months", months="must be 1 or 2")
    if not (reason or "").strip():
        raise invalid("an extension needs a reason", reason="required")
    request.extended_months, request.extended_at, request.extension_reason = months, clock.now(), reason.strip()
    request.due_at = due_date(request.received_at, months)
    db.session.flush()
    audit.record("dsr.extend", scope=SCOPE, targets=[request.id], detail={"months": months})
    return request


#: The answer offered when a request matched nothing.
NO_DATA_FOUND = "No personal data about this address was found in any of our systems."


def close(request: DataSubjectRequest, by: str, reason: str) -> DataSubjectRequest:
    """Close a request with a reasoned answer (no data found, or answered outside the tasks); audited."""
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise invalid("closing a request needs the answer given (at least 3 characters)", reason="required")
    if len(reason) > 2000:
        raise invalid("the answer is too long", reason="at most 2000 characters")
    request.close(by, reason)
    db.session.flush()
    # The answer is free text about a person: the audit keeps that it was given, not its words.
    audit.record("dsr.close", scope=SCOPE, targets=[request.id],
                 detail={"kind": request.kind, "matches": request.match_count, "late": request.closed_at > request.due_at})
    return request


def answered_by_purges() -> list[tuple[DataSubjectRequest, list[Tenant]]]:
    """Return the open requests whose only open matches were in tenants since purged, with those tenants.

    A purge deletes a tenant's instructions with its users' data: such a request has nothing left to
    decide, and the purge's certificate is its answer (the scheduler's sweep closes it).
    """
    purged = {t.id: t for t in db.session.scalars(sa.select(Tenant).where(Tenant.status == "purged"))}
    found = []
    for request in db.session.scalars(sa.select(DataSubjectRequest).where(
            DataSubjectRequest.status == "open", DataSubjectRequest.routed_tenants.is_not(None))):
        routes = request.purged_routes(set(purged))
        if routes and all(t.status not in ("pending", "approved") for t in request.tasks):
            found.append((request, [purged[tid] for tid in routes]))
    return found


def close_by_purge(request: DataSubjectRequest, certificates: list[tuple[Tenant, uuid.UUID]]) -> None:
    """Close a request answered by the purges of the tenants it was routed to, naming each certificate."""
    answer = "; ".join(f"the contract-end purge of {tenant.slug} on {tenant.purged_at:%Y-%m-%d} erased everything "
                       f"held there (deletion certificate {certificate_id})" for tenant, certificate_id in certificates)
    request.close("system:purge", f"Answered by {answer}.")
    db.session.flush()
    audit.record("dsr.close", scope=SCOPE, targets=[request.id, *(c for _, c in certificates)], actor=("system", None),
                 detail={"kind": request.kind, "matches": request.match_count, "late": request.closed_at > request.due_at,
                         "by_purge": len(certificates)})


def routing(request: DataSubjectRequest) -> list[dict]:
    """Describe where each match went, for the requester's record (tenant names, no personal data)."""
    names = dict(db.session.execute(
        sa.select(Tenant.id, Tenant.name).where(Tenant.id.in_({t.tenant_id for t in request.tasks if t.tenant_id})))
        .all()) if any(t.tenant_id for t in request.tasks) else {}
    out = []
    for task in request.tasks:
        if task.scope == "controller":
            text = "handled by the vendor (the controller)"
        else:
            text = f"forwarded to {names.get(task.tenant_id, 'a former customer')} (the controller)"
        out.append({"task_id": task.id, "scope": task.scope, "tenant_id": task.tenant_id,
                    "subject_id": task.subject_id, "status": task.status, "routing": text})
    return out


# -- decisions ---------------------------------------------------------------------------------

def get_staff_task(task_id) -> DsrTask:
    """Return a controller task; a tenant's instruction is the tenant's to decide (403)."""
    task = db.session.get(DsrTask, task_id)
    if task is None:
        raise NotFound("no such task")
    if task.scope != "controller":
        raise Forbidden("this is a tenant's instruction: only the tenant (the controller) may decide it",
                        code="tenant_decides")
    return task


def get_instruction(tenant: Tenant, task_id) -> DsrTask:
    """Return one of the tenant's instructions (another tenant's is a 404)."""
    task = db.session.get(DsrTask, task_id)
    if task is None or task.scope != "processor" or task.tenant_id != tenant.id:
        raise NotFound("no such instruction")
    return task


def list_instructions(tenant: Tenant, status: str | None = None) -> list[DsrTask]:
    """Return the tenant's instructions, earliest deadline first."""
    query = (sa.select(DsrTask).join(DataSubjectRequest)
             .where(DsrTask.scope == "processor", DsrTask.tenant_id == tenant.id)
             .order_by(DataSubjectRequest.due_at, DsrTask.id))
    if status:
        query = query.where(DsrTask.status == status)
    return list(db.session.scalars(query))


def list_staff_tasks(status: str | None = None) -> list[DsrTask]:
    """Return the controller tasks, earliest deadline first."""
    query = (sa.select(DsrTask).join(DataSubjectRequest).where(DsrTask.scope == "controller")
             .order_by(DataSubjectRequest.due_at, DsrTask.id))
    if status:
        query = query.where(DsrTask.status == status)
    return list(db.session.scalars(query))


def _audit_task(action: str, task: DsrTask, **detail) -> None:
    audit.record(action, scope=SCOPE if task.scope == "controller" else None, tenant_id=task.tenant_id,
                 targets=[task.id, task.request_id], detail={"kind": task.request.kind, **detail})


def approve(task: DsrTask, by: str) -> DsrTask:
    """Approve a task or instruction and carry it out."""
    if task.scope == "processor":
        tenant = db.session.get(Tenant, task.tenant_id)
        if tenant is None or tenant.status not in HOLDING:
            raise Conflict("this tenant's data is no longer held", code="tenant_gone")
    task.approve(by)
    db.session.flush()
    _audit_task(f"dsr.{task.noun}.approve", task)
    execute(task)
    return task


def reject(task: DsrTask, by: str, reason: str) -> DsrTask:
    """Reject a task or instruction with a reason; nothing is carried out."""
    if not (reason or "").strip():
        raise invalid("a rejection needs a reason", reason="required")
    task.reject(by, reason.strip())
    task.request.close_if_done()
    db.session.flush()
    _audit_task(f"dsr.{task.noun}.reject", task)
    return task


# -- execution ---------------------------------------------------------------------------------

def execute(task: DsrTask) -> None:
    """Carry out an approved task (export kinds are queued as a job)."""
    if task.status != "approved":
        raise Conflict(f"this {task.noun} is {task.status}; only approved ones are carried out",
                       code="not_approved")
    kind = task.request.kind
    if kind in ("access", "portability"):
        task.export_status = "building"
        db.session.flush()
        enqueue("privacy_saas.rights.tasks.build_export", str(task.id), tenant_id=task.tenant_id,
                dedupe=f"dsr-export:{task.id}")
        return
    subject = _subject(task)
    if subject is None:
        outcome, status = {"error": "subject_gone"}, "failed"
    elif task.scope == "controller":
        outcome, status = _execute_contact(kind, subject, task.request), "executed"
    else:
        outcome, status = _execute_user(kind, subject, task.request), "executed"
    task.finish(outcome, status)
    task.request.close_if_done()
    db.session.flush()
    _audit_task(f"dsr.{task.noun}.execute", task, outcome="ok" if status == "executed" else "failed")


def _subject(task: DsrTask):
    if task.scope == "controller":
        return db.session.get(Contact, task.subject_id)
    return db.session.get(RegisteredUser, (task.tenant_id, task.subject_id))


def _execute_contact(kind: str, contact: Contact, request: DataSubjectRequest) -> dict:
    if kind == "erase":
        suppressed = contacts.erase(contact, "erasure")
        return {"contacts_erased": 1, "suppressed": suppressed}
    if kind == "restrict":
        contacts.update(contact, {"restricted": True})
        return {"restricted": True}
    if kind == "object":
        # Objection (Art. 21(2)/(3)): no more marketing or legitimate-interest processing.
        contacts.update(contact, {"do_not_contact": True})
        return {"do_not_contact": True}
    changes = {k: v for k, v in (request.changes or {}).items() if k in CONTACT_FIELDS}
    contacts.update(contact, changes)
    return {"fields": sorted(changes)}


def remove_user(user: RegisteredUser) -> dict:
    """Erase a registered user through the users service; return what went (counts only)."""
    tenant = tenants.get(user.tenant_id)
    counts = usage.held_about(tenant, user.id)
    # Usage data, memberships and invitations go with the row (ON DELETE CASCADE). An ended tenant's
    # admins still answer instructions until the purge.
    users.remove(tenant, user, on_instruction=True)
    return {**counts, "registered_users": 1}


def _execute_user(kind: str, user: RegisteredUser, request: DataSubjectRequest) -> dict:
    if kind == "erase":
        return remove_user(user)
    tenant = tenants.get(user.tenant_id)
    if kind in ("restrict", "object"):
        # The vendor's processing of a user's data is usage ingestion: the tenant's instruction stops it.
        users.restrict_processing(tenant, user)
        return {"processing_restricted": True}
    changes = {k: v for k, v in (request.changes or {}).items() if k in users.RECTIFIABLE}
    users.rectify(tenant, user, **changes)
    return {"fields": sorted(changes)}


def lift_restriction(task: DsrTask, by: str) -> DsrTask:
    """Lift the restriction an executed restrict task set (the subject's processing resumes)."""
    if task.request.kind != "restrict" or task.status != "executed":
        raise Conflict("only an executed restriction can be lifted", code="not_restricted")
    subject = _subject(task)
    if subject is None:
        raise NotFound("the subject no longer exists")
    if task.scope == "controller":
        contacts.update(subject, {"restricted": False})
    else:
        users.restrict_processing(tenants.get(task.tenant_id), subject, False)
    task.outcome = {**(task.outcome or {}), "lifted_at": clock.now().isoformat(), "lifted_by": by}
    db.session.flush()
    _audit_task(f"dsr.{task.noun}.lift", task)
    return task


# -- self-service ------------------------------------------------------------------------------

def self_service_delete(user: RegisteredUser) -> dict:
    """A signed-in user asks to delete their account: done at once where the tenant allows it, else queued.

    Returns {"deleted": True, ...counts} or {"deleted": False, "instruction_id": ...}.
    """
    tenant = user.tenant
    recorded_by = f"user:{user.tenant_id}:{user.id}"
    if tenant.self_service_deletion:
        counts = remove_user(user)
        audit.record("dsr.self_service.delete", tenant_id=tenant.id, targets=[user.id], actor=("user", str(user.id)),
                     detail={k: v for k, v in counts.items()})
        return {"deleted": True, **counts}
    ensure_ready()
    now = clock.now()
    request = DataSubjectRequest(kind="erase", channel="self_service", received_at=now, due_at=due_date(now),
                                 recorded_by=recorded_by, email=user.email, match_count=1)
    request.tasks.append(DsrTask(scope="processor", tenant_id=tenant.id, subject_id=user.id))
    db.session.add(request)
    db.session.flush()
    task = request.tasks[0]
    audit.record("dsr.receive", scope=SCOPE, targets=[request.id, task.id], actor=("user", str(user.id)),
                 detail={"kind": "erase", "channel": "self_service", "matches": 1, "tenants": 1})
    audit.record("dsr.instruction.create", tenant_id=tenant.id, targets=[task.id, request.id, user.id],
                 actor=("user", str(user.id)), detail={"kind": "erase"})
    return {"deleted": False, "instruction_id": task.id, "request_id": request.id}
