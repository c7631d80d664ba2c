"""Staff console: sign in, tenants list, tenant page."""
from __future__ import annotations

import json
from functools import wraps

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from privacy_saas import rls
from privacy_saas.audit import service as audit_service
from privacy_saas.audit.schemas import AuditQuerySchema
from privacy_saas.auth import service as staff_service
from privacy_saas.auth.models import Staff
from privacy_saas.auth.principal import CAPABILITIES, load_principal
from privacy_saas.console.forms import ConfirmForm, EndContractForm, LegalHoldForm, LoginForm
from privacy_saas.console.signin import sign_in_page, sign_out
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
                           hold_form=LegalHoldForm(), end_form=EndContractForm(), confirm=ConfirmForm())


@bp.post("/tenants/<slug>/end-contract")
@staff_page("tenants.offboard")
def tenant_end_contract(slug: str):
    """End the contract from the console."""
    form = EndContractForm()
    if not form.validate_on_submit():
        abort(400)
    found = tenant_service.get_by_slug(slug)
    lifecycle.end_contract(found, form.on.data)
    flash(f"Contract ended on {found.contract_end}; purge due on {found.purge_due_on}.", "ok")
    return redirect(url_for("console.tenant", slug=slug))


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


@bp.post("/tenants/<slug>/legal-holds/<uuid:hold_id>/release")
@staff_page("legal_holds.manage")
def tenant_release_hold(slug: str, hold_id):
    """Release a legal hold."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    lifecycle.release_hold(tenant_service.get_by_slug(slug), hold_id, current_user.id)
    flash("Legal hold released.", "ok")
    return redirect(url_for("console.tenant", slug=slug))


@bp.get("/tenants/<slug>/certificate.json")
@staff_page("tenants.read")
def tenant_certificate(slug: str):
    """Download the signed deletion certificate."""
    cert = lifecycle.certificate(tenant_service.get_by_slug(slug))
    return Response(json.dumps(cert.document, indent=2), mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{slug}-deletion-certificate.json"'})


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
                           pages=max((total + 49) // 50, 1), args=args)
