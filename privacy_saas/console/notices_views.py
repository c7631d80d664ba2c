"""Staff console pages: sub-processor changes and tenants' answers, objection tasks, the breach register."""
from __future__ import annotations

from datetime import timezone

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import SelectChoice

from privacy_saas import clock
from privacy_saas.auth.principal import load_principal
from privacy_saas.console.forms import ConfirmForm
from privacy_saas.console.notices_forms import (
    AuthorityForm,
    BreachForm,
    ChangeForm,
    NotifyForm,
    ReasonForm,
    ResolutionForm,
    SubjectsForm,
    UpdateForm,
)
from privacy_saas.console.views import staff_page
from privacy_saas.errors import AppError
from privacy_saas.notices import breaches, changes, objections
from privacy_saas.subprocessors import service as register

bp = Blueprint("notices_console", __name__, url_prefix="/console/notices", template_folder="templates")


@bp.before_request
def _principal():
    # Services audit as g.principal: console sessions name the staff member.
    load_principal()


def _utc(value):
    return value.replace(tzinfo=timezone.utc) if value is not None else None


def _refused(exc: AppError) -> None:
    fields = "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
    flash(exc.message + (f" ({fields})" if fields else ""), "error")


# --- sub-processor changes ---------------------------------------------------------------------

def _change_form() -> ChangeForm:
    form = ChangeForm()
    form.subprocessor_id.choices = [SelectChoice("", "— (add)")] + [SelectChoice(str(e.id), e.name)
                                                                   for e in register.list_subprocessors()]
    return form


def _render_changes(form, status: int = 200):
    return render_template("console/notices/changes.html", changes=changes.list_changes(), form=form,
                           window=changes.notice_window(form.tenant_regions.data or [])), status


@bp.get("/changes")
@staff_page("subprocessors.read")
def change_list():
    """Changes to the register and the form to propose one (with the earliest date the notices allow)."""
    return _render_changes(_change_form())


@bp.post("/changes")
@staff_page("subprocessors.write")
def change_propose():
    """Propose (and publish, unless a draft) a change."""
    form = _change_form()
    if not form.validate_on_submit():
        return _render_changes(form, 400)
    data = {"action": form.action.data, "subprocessor_id": form.subprocessor_id.data or None,
            "name": form.name.data, "purpose": form.purpose.data, "country": form.country.data,
            "location": form.location.data, "transfer_mechanism": form.transfer_mechanism.data,
            "data_categories": form.data_categories.data, "tenant_regions": form.tenant_regions.data,
            "effective_on": form.effective_on.data}
    try:
        change = changes.propose(data, publish=not form.draft.data)
    except AppError as exc:
        _refused(exc)
        return _render_changes(form, exc.status)
    flash("Draft saved." if change.status == "draft" else
          f"Published: {len(changes.notices_of(change))} tenant(s) notified.", "ok")
    return redirect(url_for(".change_detail", change_id=change.id))


@bp.get("/changes/<uuid:change_id>")
@staff_page("subprocessors.read")
def change_detail(change_id):
    """One change: each tenant's answer (acknowledged, objected and why, silent) and its tasks."""
    change = changes.get(change_id)
    return render_template("console/notices/change.html", change=change, answers=changes.answers(change),
                           confirm=ConfirmForm(), withdraw_form=ReasonForm())


@bp.post("/changes/<uuid:change_id>/publish")
@staff_page("subprocessors.write")
def change_publish(change_id):
    """Publish a draft."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        change = changes.publish_change(changes.get(change_id, lock=True))
    except AppError as exc:
        _refused(exc)
    else:
        flash(f"Published: {len(changes.notices_of(change))} tenant(s) notified.", "ok")
    return redirect(url_for(".change_detail", change_id=change_id))


@bp.post("/changes/<uuid:change_id>/withdraw")
@staff_page("subprocessors.write")
def change_withdraw(change_id):
    """Withdraw a change before it takes effect."""
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("A withdrawal needs a reason.", "error")
        return redirect(url_for(".change_detail", change_id=change_id))
    try:
        changes.withdraw(changes.get(change_id, lock=True), form.reason.data)
    except AppError as exc:
        _refused(exc)
    else:
        flash("Withdrawn; the tenants told are told again.", "ok")
    return redirect(url_for(".change_detail", change_id=change_id))


# --- objection tasks ---------------------------------------------------------------------------

@bp.get("/objections")
@staff_page("objections.manage")
def objection_list():
    """Tenants' objections to sub-processor changes: open tasks, then the ones done."""
    return render_template("console/notices/objections.html", open_tasks=objections.list_tasks("open"),
                           done=objections.list_tasks("done"), confirm=ConfirmForm(), close_form=ResolutionForm())


@bp.post("/objections/<uuid:task_id>/take")
@staff_page("objections.manage")
def objection_take(task_id):
    """Take a task."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    objections.take(objections.get(task_id), current_user.id)
    flash("Task taken.", "ok")
    return redirect(url_for(".objection_list"))


@bp.post("/objections/<uuid:task_id>/close")
@staff_page("objections.manage")
def objection_close(task_id):
    """Close a task with its resolution."""
    form = ResolutionForm()
    if not form.validate_on_submit():
        flash("Say how the objection was resolved.", "error")
        return redirect(url_for(".objection_list"))
    try:
        objections.close(objections.get(task_id), form.resolution.data)
    except AppError as exc:
        _refused(exc)
    else:
        flash("Task closed.", "ok")
    return redirect(url_for(".objection_list"))


# --- breaches ----------------------------------------------------------------------------------

def _render_breaches(form, status: int = 200):
    return render_template("console/notices/breaches.html", breaches=breaches.list_breaches(),
                           overdue=breaches.overdue(), form=form, now=clock.now()), status


@bp.get("/breaches")
@staff_page("breaches.read")
def breach_list():
    """Overdue notifications first, then the register, and the form to record a breach."""
    return _render_breaches(BreachForm())


@bp.post("/breaches")
@staff_page("breaches.write")
def breach_record():
    """Record a breach."""
    form = BreachForm()
    if not form.validate_on_submit():
        return _render_breaches(form, 400)
    data = {"scope": form.scope.data, "tenants": form.tenants.data, "held_from": form.held_from.data,
            "held_to": form.held_to.data, "occurred_at": _utc(form.occurred_at.data),
            "aware_at": _utc(form.aware_at.data), "nature": form.nature.data,
            "data_categories": form.data_categories.data,
            "subject_categories": form.subject_categories.data,
            "approx_subjects": form.approx_subjects.data, "approx_records": form.approx_records.data,
            "consequences": form.consequences.data or "", "measures": form.measures.data or "",
            "measures_proposed": form.measures_proposed.data or None}
    try:
        breach = breaches.record(data, notify=form.notify.data)
    except AppError as exc:
        _refused(exc)
        return _render_breaches(form, exc.status)
    flash("Breach recorded.", "ok")
    return redirect(url_for(".breach_detail", breach_id=breach.id))


@bp.get("/breaches/<uuid:breach_id>")
@staff_page("breaches.read")
def breach_detail(breach_id):
    """One breach: each tenant's deadline and notification, updates, the controller's decisions."""
    breach = breaches.get(breach_id)
    return render_template("console/notices/breach.html", breach=breach, notifications=breaches.notifications(breach),
                           updates=breaches.updates_of(breach), now=clock.now(), notify_form=NotifyForm(),
                           update_form=UpdateForm(), authority_form=AuthorityForm(), subjects_form=SubjectsForm())


def _breach_action(breach_id, form, action, done: str):
    if not form.validate_on_submit():
        flash("Check the form: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in form.errors.items()), "error")
        return redirect(url_for(".breach_detail", breach_id=breach_id))
    try:
        action(breaches.get(breach_id, lock=True))
    except AppError as exc:
        _refused(exc)
    else:
        flash(done, "ok")
    return redirect(url_for(".breach_detail", breach_id=breach_id))


@bp.post("/breaches/<uuid:breach_id>/notify")
@staff_page("breaches.write")
def breach_notify(breach_id):
    """Send the first notice to the tenants not yet told."""
    form = NotifyForm()
    return _breach_action(breach_id, form, lambda b: breaches.notify_tenants(
        b, [form.tenant.data.strip()] if form.tenant.data else None, form.channel.data), "Notified.")


@bp.post("/breaches/<uuid:breach_id>/updates")
@staff_page("breaches.write")
def breach_update(breach_id):
    """Send an update to every tenant already notified."""
    form = UpdateForm()
    changed = {k: getattr(form, k).data for k in ("approx_subjects", "consequences", "measures")
               if getattr(form, k).data not in (None, "")}
    return _breach_action(breach_id, form, lambda b: breaches.add_update(b, form.summary.data, changed),
                          "Update recorded and sent.")


@bp.post("/breaches/<uuid:breach_id>/authority")
@staff_page("breaches.write")
def breach_authority(breach_id):
    """Record the supervisory authority's notification or the reasoned decision not to notify."""
    form = AuthorityForm()
    return _breach_action(breach_id, form, lambda b: breaches.decide_authority(
        b, form.decision.data, reason=form.reason.data, notified_at=_utc(form.notified_at.data),
        reference=form.reference.data), "Decision recorded.")


@bp.post("/breaches/<uuid:breach_id>/subjects")
@staff_page("breaches.write")
def breach_subjects(breach_id):
    """Record whether the data subjects must be told."""
    form = SubjectsForm()
    return _breach_action(breach_id, form, lambda b: breaches.decide_subjects(
        b, form.decision.data, reason=form.reason.data, informed_at=_utc(form.informed_at.data)),
        "Decision recorded.")
