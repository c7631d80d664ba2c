"""Tenant admin console: notices (acknowledge, object), the transparency page, privacy contacts."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from privacy_saas.audit.service import current_actor_label
from privacy_saas.console.forms import ConfirmForm
from privacy_saas.console.notices_forms import ObjectionForm, PrivacyContactForm
from privacy_saas.console.tenant_views import admin_page
from privacy_saas.errors import AppError
from privacy_saas.notices import inbox, transparency
from privacy_saas.processor.privacy_contacts import service as privacy_contacts

bp = Blueprint("tenant_notices", __name__, url_prefix="/console/t", template_folder="templates")


@bp.app_context_processor
def _attention():
    """The banner of every tenant admin page: notices waiting for an answer."""

    def notices_waiting(tenant) -> int:
        return len(inbox.needs_attention(tenant)) if tenant is not None and tenant.status in ("active", "ended") else 0

    return {"notices_waiting": notices_waiting}


@bp.get("/notices")
@admin_page
def notice_list(tenant):
    """Sub-processor changes and breach notices we sent you; answer each."""
    return render_template("console/tenant/notices.html", tenant=tenant, notices=inbox.list_for(tenant),
                           can_answer=inbox.can_answer, can_object=inbox.can_object, form=ConfirmForm(),
                           objection_form=ObjectionForm())


@bp.post("/notices/<uuid:notice_id>/acknowledge")
@admin_page
def notice_acknowledge(tenant, notice_id):
    """Acknowledge a notice."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        inbox.acknowledge(tenant, inbox.get(tenant, notice_id, lock=True), current_actor_label())
    except AppError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash("Acknowledged.", "ok")
    return redirect(url_for(".notice_list"))


@bp.post("/notices/<uuid:notice_id>/objection")
@admin_page
def notice_object(tenant, notice_id):
    """Object to a sub-processor change, with reasons."""
    form = ObjectionForm()
    notice = inbox.get(tenant, notice_id, lock=True)
    if not form.validate_on_submit():
        flash("An objection needs your reasons (at least 3 characters).", "error")
        return redirect(url_for(".notice_list"))
    try:
        inbox.object_to(tenant, notice, current_actor_label(), form.reason.data)
    except AppError as exc:
        flash(exc.message, "error")
    else:
        flash("Objection recorded: your account manager will contact you.", "ok")
    return redirect(url_for(".notice_list"))


@bp.get("/transparency")
@admin_page
def transparency_page(tenant):
    """Terms, sub-processors (now or on a past day), pending changes, notices, audit log, purge date."""
    as_of = None
    if request.args.get("as_of"):
        try:
            as_of = date.fromisoformat(request.args["as_of"])
        except ValueError:
            flash("The date must read YYYY-MM-DD.", "error")
    return render_template("console/tenant/transparency.html", tenant=tenant, page=transparency.page(tenant, as_of))


def _render_contacts(tenant, form, status: int = 200):
    return render_template("console/tenant/privacy_contacts.html", tenant=tenant,
                           contacts=privacy_contacts.list_for(tenant), form=form, remove_form=ConfirmForm()), status


@bp.route("/privacy-contacts", methods=["GET", "POST"])
@admin_page
def contact_list(tenant):
    """Who receives our notices besides your admins; add one."""
    form = PrivacyContactForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _render_contacts(tenant, form, 400)
        try:
            privacy_contacts.add(tenant, form.email.data)
        except AppError as exc:
            flash(exc.message, "error")
            return _render_contacts(tenant, form, exc.status)
        flash("Privacy contact added.", "ok")
        return redirect(url_for(".contact_list"))
    return _render_contacts(tenant, form)


@bp.post("/privacy-contacts/<uuid:contact_id>/remove")
@admin_page
def contact_remove(tenant, contact_id):
    """Remove a contact added here."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        privacy_contacts.remove(tenant, privacy_contacts.get(tenant, contact_id))
    except AppError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash("Privacy contact removed.", "ok")
    return redirect(url_for(".contact_list"))
