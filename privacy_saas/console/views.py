"""Staff console: sign in, tenants list, tenant page."""
from __future__ import annotations

import json
import uuid
from functools import wraps

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from privacy_saas import clock, rls
from privacy_saas.audit import service as audit_service
from privacy_saas.audit.schemas import AuditQuerySchema
from privacy_saas.auth import service as staff_service
from privacy_saas.auth.models import Staff
from privacy_saas.auth.principal import CAPABILITIES, load_principal
from privacy_saas.console.forms import (
    ConfirmForm,
    EndContractConfirmForm,
    EndContractForm,
    LegalHoldForm,
    LoginForm,
    ReinstateForm,
    TypedConfirmForm,
)
from privacy_saas.console.signin import sign_in_page, sign_out
from privacy_saas.errors import AppError
from privacy_saas.extensions import limiter
from privacy_saas.lifecycle import certificates
from privacy_saas.lifecycle import service as lifecycle
from privacy_saas.lifecycle import tasks as lifecycle_tasks
from privacy_saas.processor.tenants import service as tenant_service

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")


def staff_page(capability: str):
    """Decorate a console page: a signed-in staff member holding `capability`."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated or not isinstance(current_user._get_current_object(), Staff):
                return redirect(url_for("console.login", next=request.path))
            if current_user.role not in CAPABILITIES[capability]:
                abort(403)
            rls.lift_for_staff()
            return view(*args, **kwargs)

        wrapper.required_capability = capability
        return wrapper

    return decorator


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    """Sign a staff member in."""
    return sign_in_page(LoginForm(), lambda form: staff_service.authenticate(form.email.data, form.password.data),
                        template="console/login.html", refused="Wrong e-mail or password, or the account is locked.",
                        within="/console/", home="console.tenants")


@bp.post("/logout")
def logout():
    """Sign out."""
    return sign_out("console.login")


@bp.get("/")
@staff_page("tenants.read")
def tenants():
    """List tenants with their contract and purge dates."""
    status = request.args.get("status") or None
    return render_template("console/tenants.html", tenants=tenant_service.list_all(status=status),
                           status=status)


@bp.before_request
def _principal():
    # Services audit as g.principal: console sessions name the staff member too.
    load_principal()


def staff_can(capability: str) -> bool:
    """Return whether the signed-in console user is staff holding `capability` (for showing links and buttons)."""
    return isinstance(current_user._get_current_object(), Staff) and current_user.role in CAPABILITIES[capability]


@bp.app_context_processor
def _staff_helpers():
    return {"staff_can": staff_can}


@bp.get("/tenants/<slug>")
@staff_page("tenants.read")
def tenant(slug: str):
    """Show one tenant: contract, purge date, legal holds, certificate."""
    found = tenant_service.get_by_slug(slug)
    certificate = lifecycle.certificate(found) if found.status == "purged" else None
    facts = certificates.describe(certificate.document) if certificate is not None else []
    return render_template("console/tenant.html", tenant=found, holds=lifecycle.list_holds(found),
                           decision=lifecycle.purge_decision(found), certificate=certificate, facts=facts,
                           purge=lifecycle_tasks.purge_status(found),
                           hold_form=LegalHoldForm(), end_form=EndContractForm(meta={"csrf": False}),
                           reinstate_form=ReinstateForm(), confirm=ConfirmForm())


def _confirm_end_page(found, form: EndContractConfirmForm, status: int = 200, error: str | None = None,
                      planned_on=None):
    """The confirmation page of an offboarding: what ending on that day does and when (raises as it would)."""
    return render_template("console/end_contract.html", tenant=found, form=form, error=error,
                           plan=lifecycle.offboarding(found, planned_on or form.on.data)), status


def _refused_end(found, form: EndContractConfirmForm, exc: AppError):
    """A refused end (a day before the contract started, after its end, ...): said on the confirmation page,
    which states what ending today would do; where even that is refused (already ended), on the tenant page."""
    try:
        return _confirm_end_page(found, form, exc.status, exc.message, planned_on=clock.today())
    except AppError:
        flash(exc.message, "error")
        return redirect(url_for("console.tenant", slug=found.slug))


@bp.route("/tenants/<slug>/end-contract", methods=["GET", "POST"])
@staff_page("tenants.offboard")
def tenant_end_contract(slug: str):
    """End the contract: GET states what would happen and when; POST with the slug typed carries it out."""
    found = tenant_service.get_by_slug(slug)
    if request.method == "GET":
        form = EndContractConfirmForm(formdata=request.args, meta={"csrf": False})
        form.validate()
        try:
            return _confirm_end_page(found, EndContractConfirmForm(formdata=None, on=form.on.data))
        except AppError as exc:
            flash(exc.message, "error")
            return redirect(url_for("console.tenant", slug=slug))
    form = EndContractConfirmForm()
    try:
        if not form.validate_on_submit():
            return _confirm_end_page(found, form, 400, "Type the tenant's slug to confirm.")
        if form.typed.data.strip().lower() != found.slug:
            return _confirm_end_page(found, form, 400,
                                     f"That is not this tenant's slug: type {found.slug} to confirm.")
        lifecycle.end_contract(found, form.on.data)
    except AppError as exc:
        return _refused_end(found, form, exc)
    if found.status == "ended":
        flash(f"Contract ended on {found.contract_end}: users are locked out; the purge is due on "
              f"{found.purge_due_on}.", "ok")
    else:
        flash(f"Contract end scheduled: the tenant stays active through {found.contract_end}; the purge is "
              f"due on {found.purge_due_on}.", "ok")
    return redirect(url_for("console.tenant", slug=slug))


@bp.post("/tenants/<slug>/reinstate")
@staff_page("tenants.reinstate")
def tenant_reinstate(slug: str):
    """Renew an ended tenant's contract before its purge starts, or cancel a scheduled end."""
    form = ReinstateForm()
    if not form.validate_on_submit():
        flash("The renewed contract's last day must be a date (or empty: open-ended).", "error")
        return redirect(url_for("console.tenant", slug=slug))
    found = tenant_service.get_by_slug(slug)
    try:
        lifecycle.reinstate(found, form.until.data)
    except AppError as exc:
        flash(exc.message, "error")
        return redirect(url_for("console.tenant", slug=slug))
    flash(f"Contract renewed: the tenant is active{' until ' + str(found.contract_end) if found.contract_end else ''}"
          f" and no purge is due.", "ok")
    return redirect(url_for("console.tenant", slug=slug))


@bp.route("/tenants/<slug>/purge", methods=["GET", "POST"])
@staff_page("tenants.purge")
def tenant_purge_now(slug: str):
    """Start a due purge now rather than at the next sweep: a confirmation with the slug typed."""
    found = tenant_service.get_by_slug(slug)
    form = TypedConfirmForm()
    error = None
    if request.method == "POST":
        if not form.validate_on_submit() or form.typed.data.strip().lower() != found.slug:
            error = f"Type {found.slug} to confirm."
        else:
            try:
                lifecycle_tasks.purge_now(found)
            except AppError as exc:
                return render_template("console/purge_now.html", tenant=found, form=form, error=exc.message,
                                       decision=lifecycle.purge_decision(found)), exc.status
            flash("Purge queued: a worker picks it up within seconds; this page shows its progress.", "ok")
            return redirect(url_for("console.tenant", slug=slug))
    return render_template("console/purge_now.html", tenant=found, form=form, error=error,
                           decision=lifecycle.purge_decision(found)), \
        400 if error else 200


@bp.post("/tenants/<slug>/legal-holds")
@staff_page("legal_holds.manage")
def tenant_place_hold(slug: str):
    """Place a legal hold."""
    form = LegalHoldForm()
    if not form.validate_on_submit():
        flash("A legal hold needs a reason of at least 3 characters.", "error")
        return redirect(url_for("console.tenant", slug=slug))
    lifecycle.place_hold(tenant_service.get_by_slug(slug), form.reason.data, current_user.id, form.until.data)
    flash("Legal hold placed: the tenant will not be purged until it is released.", "ok")
    return redirect(url_for("console.tenant", slug=slug))


@bp.route("/tenants/<slug>/legal-holds/<uuid:hold_id>/release", methods=["GET", "POST"])
@staff_page("legal_holds.manage")
def tenant_release_hold(slug: str, hold_id):
    """Release a legal hold: GET asks to confirm (saying what follows), POST releases it."""
    found = tenant_service.get_by_slug(slug)
    form = ConfirmForm()
    if request.method == "GET":
        hold = lifecycle.get_hold(found, hold_id)
        others = [h for h in lifecycle.active_holds(found) if h.id != hold.id]
        return render_template("console/release_hold.html", tenant=found, hold=hold, others=others, form=form,
                               decision=lifecycle.purge_decision(found))
    if not form.validate_on_submit():
        abort(400)
    lifecycle.release_hold(found, hold_id, current_user.id)
    flash("Legal hold released.", "ok")
    return redirect(url_for("console.tenant", slug=slug))


@bp.get("/tenants/<slug>/certificate.json")
@staff_page("tenants.read")
def tenant_certificate(slug: str):
    """Download the signed deletion certificate."""
    cert = lifecycle.certificate(tenant_service.get_by_slug(slug))
    return Response(json.dumps(cert.document, indent=2), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{slug}-deletion-certificate.json"'})


@bp.get("/tenants/<slug>/certificate")
@staff_page("tenants.read")
def tenant_certificate_page(slug: str):
    """The deletion certificate for people: what was erased, when, keys destroyed, and its signature checked."""
    found = tenant_service.get_by_slug(slug)
    cert = lifecycle.certificate(found)
    return render_template("console/certificate.html", tenant=found, certificate=cert, body=cert.document["certificate"],
                           facts=certificates.describe(cert.document), verified=certificates.verify(cert.document))


@bp.get("/audit")
@staff_page("audit.read")
def audit_log():
    """Browse the audit log (filters as the API: action, tenant slug, outcome, since, until)."""
    args = {key: (request.args.get(key) or "").strip() for key in ("action", "tenant", "outcome", "since", "until")}
    try:
        query = AuditQuerySchema().load({key: value for key, value in args.items() if value})
    except ValidationError:
        abort(400)
    filters = {key: query.get(key) for key in ("action", "outcome", "since", "until")}
    if query.get("tenant"):
        filters["tenant_id"] = tenant_service.get_by_slug(query["tenant"]).id
    page_number = max(request.args.get("page", 1, type=int) or 1, 1)
    entries, total = audit_service.list_entries(page_number=page_number, page_size=50, **filters)
    return render_template("console/audit.html", entries=entries, total=total, page=page_number,
                           pages=max((total + 49) // 50, 1), args=args, labels=_audit_labels(entries))


def _audit_labels(entries) -> dict:
    """Name the page's staff actors (e-mail) and tenants (slug) instead of their ids; gone ones keep the id."""
    labels: dict[str, str] = {}
    for entry in entries:
        if entry.actor_kind == "staff" and entry.actor_id and entry.actor_id not in labels:
            try:
                labels[entry.actor_id] = staff_service.get_staff(uuid.UUID(entry.actor_id)).email
            except (ValueError, AppError):
                labels[entry.actor_id] = entry.actor_id
        if entry.tenant_id is not None and str(entry.tenant_id) not in labels:
            try:
                labels[str(entry.tenant_id)] = tenant_service.get(entry.tenant_id).slug
            except AppError:
                labels[str(entry.tenant_id)] = str(entry.tenant_id)
    return labels
