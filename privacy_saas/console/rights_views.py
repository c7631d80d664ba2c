"""Staff console pages of data-subject requests: deadline dashboard and request detail (ids, never data)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from privacy_saas import clock
from privacy_saas.audit.service import current_actor_label
from privacy_saas.auth.principal import load_principal
from privacy_saas.console.forms import ConfirmForm
from privacy_saas.console.views import staff_page
from privacy_saas.errors import AppError
from privacy_saas.rights import service
from privacy_saas.rights.models import CHANNELS, KINDS


class RejectForm(FlaskForm):
    reason = StringField("Reason", validators=[DataRequired(), Length(max=1000)])


class IntakeForm(FlaskForm):
    kind = SelectField("Kind", choices=list(KINDS))
    email = EmailField("Subject's e-mail", validators=[DataRequired(), Length(max=254)])
    channel = SelectField("Received by", choices=list(CHANNELS))
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=2000)])

bp = Blueprint("rights_console", __name__, url_prefix="/console/rights", template_folder="templates")


@bp.before_request
def _principal():
    load_principal()


@bp.route("/")
@staff_page("dsr.record")
def dashboard():
    """Open requests: overdue, due within 7 days, later."""
    return render_template("console/rights/dashboard.html", groups=service.dashboard(), now=clock.now(),
                           intake=IntakeForm())


@bp.post("/new")
@staff_page("dsr.record")
def record():
    """Record a request received by e-mail, post or phone; it fans out at once."""
    form = IntakeForm()
    if not form.validate_on_submit():
        flash("The request needs a kind, a valid e-mail and a channel.", "error")
        return redirect(url_for("rights_console.dashboard"))
    try:
        request = service.receive(form.kind.data, form.email.data, form.channel.data, current_actor_label(),
                                  notes=form.notes.data or None)
    except AppError as exc:
        details = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in (exc.errors or {}).items())
        flash(f"{exc.message}{' (' + details + ')' if details else ''}", "error")
        return redirect(url_for("rights_console.dashboard"))
    return redirect(url_for("rights_console.request_detail", request_id=request.id))


@bp.route("/<uuid:request_id>")
@staff_page("dsr.record")
def request_detail(request_id):
    """One request: deadline, extension and where each match was routed."""
    return _render(service.get(request_id))


def _render(request, reject_form=None, status: int = 200):
    can_decide = g.principal is not None and g.principal.can("dsr.decide")
    return render_template("console/rights/request.html", request=request, routes=service.routing(request),
                           now=clock.now(), zip=zip, can_decide=can_decide, approve_form=ConfirmForm(),
                           reject_form=reject_form or RejectForm()), status


@bp.post("/tasks/<uuid:task_id>/approve")
@staff_page("dsr.decide")
def task_approve(task_id):
    """Approve a controller-scope task and carry it out (tenant instructions are refused)."""
    task = service.get_staff_task(task_id)
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
