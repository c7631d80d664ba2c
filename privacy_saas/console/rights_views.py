"""Staff console pages of data-subject requests: deadline dashboard and request detail (ids, never data)."""
from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from privacy_saas import clock
from privacy_saas.audit.service import current_actor_label
from privacy_saas.auth.principal import load_principal
from privacy_saas.console.forms import ConfirmForm
from privacy_saas.console.views import staff_page
from privacy_saas.errors import AppError
from privacy_saas.rights import exports, service
from privacy_saas.rights.models import CHANNELS, KINDS


class RejectForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=1000)])


class IntakeForm(FlaskForm):
    kind = SelectField("Kind", choices=list(KINDS))
    email = EmailField("Subject's e-mail", validators=[DataRequired(), Length(max=254)])
    channel = SelectField("Received by", choices=list(CHANNELS))
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])


class CloseForm(FlaskForm):
    reason = TextAreaField("Answer given to the requester", validators=[DataRequired(), Length(min=3, max=2000)])


bp = Blueprint("rights_console", __name__, url_prefix="/console/rights", template_folder="templates")


@bp.before_request
def _principal():
    load_principal()


@bp.route("/")
@staff_page("dsr.record")
def dashboard():
    """Open requests: overdue, due within 7 days, later."""
    return _dashboard(IntakeForm())


def _dashboard(intake: IntakeForm, error: str | None = None, status: int = 200):
    # A refused intake shows again with what was typed, open, its error beside it.
    return render_template("console/rights/dashboard.html", groups=service.dashboard(), now=clock.now(),
                           intake=intake, intake_error=error), status


@bp.post("/new")
@staff_page("dsr.record")
def record():
    """Record a request received by e-mail, post or phone; it fans out at once."""
    form = IntakeForm()
    if not form.validate_on_submit():
        return _dashboard(form, "The request needs a kind, a valid e-mail and a channel.", 400)
    try:
        created = service.receive(form.kind.data, form.email.data, form.channel.data, current_actor_label(),
                                  notes=form.notes.data or None)
    except AppError as exc:
        details = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in (exc.errors or {}).items())
        return _dashboard(form, f"{exc.message}{' (' + details + ')' if details else ''}", exc.status)
    return redirect(url_for("rights_console.request_detail", request_id=created.id))


@bp.route("/<uuid:request_id>")
@staff_page("dsr.record")
def request_detail(request_id):
    """One request: deadline, extension and where each match was routed."""
    return _render(service.get(request_id))


def _render(dsr, reject_form=None, status: int = 200, close_form=None, close_error: str | None = None):
    can_decide = g.principal is not None and g.principal.can("dsr.decide")
    if close_form is None:
        close_form = CloseForm(formdata=None, reason=service.NO_DATA_FOUND if dsr.match_count == 0 else "")
    return render_template("console/rights/request.html", request=dsr, routes=service.routing(dsr),
                           now=clock.now(), zip=zip, can_decide=can_decide, approve_form=ConfirmForm(),
                           reject_form=reject_form or RejectForm(), close_form=close_form,
                           close_error=close_error,
                           waiting=[t for t in dsr.tasks if t.status in ("pending", "approved")]), status


@bp.post("/<uuid:request_id>/close")
@staff_page("dsr.decide")
def request_close(request_id):
    """Close with the answer given (no data found, or answered otherwise): the clock stops."""
    dsr = service.get(request_id)
    form = CloseForm()
    if not form.validate_on_submit():
        return _render(dsr, status=400, close_form=form, close_error="Write the answer given (3 characters or more).")
    try:
        service.close(dsr, current_actor_label(), form.reason.data)
    except AppError as exc:
        return _render(dsr, status=exc.status, close_form=form, close_error=exc.message)
    flash("Request closed with your answer; its deadline no longer runs.", "ok")
    return redirect(url_for(".request_detail", request_id=dsr.id))


@bp.post("/tasks/<uuid:task_id>/export")
@staff_page("dsr.decide")
def task_export(task_id):
    """Download the subject's export once (a POST: a link prefetch must not spend the one download)."""
    task = service.get_staff_task(task_id)
    if not ConfirmForm().validate_on_submit():
        return _render(task.request, status=400)
    data = exports.download(task)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="subject-export-{task.id}.zip"'})


@bp.route("/tasks/<uuid:task_id>/approve", methods=["GET", "POST"])
@staff_page("dsr.decide")
def task_approve(task_id):
    """Approve a controller-scope task and carry it out; an erasure is confirmed first (GET)."""
    task = service.get_staff_task(task_id)
    if request.method == "GET":
        return render_template("console/rights/approve.html", task=task, form=ConfirmForm())
    if not ConfirmForm().validate_on_submit():
        return _render(task.request, status=400)
    service.approve(task, current_actor_label())
    flash("Approved and carried out." if task.status == "executed" else "Approved; the export is being built.", "ok")
    return redirect(url_for(".request_detail", request_id=task.request_id))


@bp.post("/tasks/<uuid:task_id>/reject")
@staff_page("dsr.decide")
def task_reject(task_id):
    """Reject a controller-scope task with a reason."""
    task = service.get_staff_task(task_id)
    form = RejectForm()
    if not form.validate_on_submit():
        flash("A rejection needs a reason.", "error")
        return _render(task.request, form, 400)
    service.reject(task, current_actor_label(), form.reason.data)
    flash("Rejected.", "ok")
    return redirect(url_for(".request_detail", request_id=task.request_id))
