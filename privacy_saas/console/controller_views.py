"""Staff console pages of the controller scope: contacts, consents, retention, sub-processors.

Decrypted contact details are shown only to roles holding `contacts.read`
(account_manager, dpo, admin); `support` gets a 403 on every contact page.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from privacy_saas.auth.principal import load_principal
from privacy_saas.console.controller_forms import (
    ConsentForm,
    EraseForm,
    SubprocessorForm,
    SuppressionAddForm,
    SuppressionLookupForm,
)
from privacy_saas.console.forms import ConfirmForm
from privacy_saas.console.views import staff_page
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.controller.contacts.models import CONSENT_PURPOSES, LAWFUL_BASES, SOURCES
from privacy_saas.controller.retention import service as retention
from privacy_saas.controller.suppression import service as suppression
from privacy_saas.errors import AppError
from privacy_saas.subprocessors import service as subprocessors

bp = Blueprint("controller_console", __name__, url_prefix="/console/controller", template_folder="templates")

PAGE_SIZE = 50


@bp.before_request
def _principal():
    # Services audit as g.principal; console sessions must name the staff member too.
    load_principal()


# --- contacts --------------------------------------------------------------------------------

@bp.get("/contacts")
@staff_page("contacts.read")
def contacts_list():
    """List contacts (decrypted), with the suppression list's counts."""
    page = max(request.args.get("page", 1, type=int), 1)
    filters = {"source": request.args.get("source") or None, "lawful_basis": request.args.get("basis") or None}
    if filters["source"] not in (None, *SOURCES) or filters["lawful_basis"] not in (None, *LAWFUL_BASES):
        abort(400)
    email = (request.args.get("email") or "").strip()[:254] or None
    rows, total = contacts.list_contacts(page=page, page_size=PAGE_SIZE, email=email, **filters)
    contacts.audit_read(rows, "contact.list")
    items = [(c, contacts.readable(c), contacts.marketing_eligibility(c)) for c in rows]
    return render_template("console/controller/contacts.html", items=items, total=total, page=page,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), filters=filters, email=email,
                           sources=SOURCES, bases=LAWFUL_BASES, suppressions=suppression.summary())


@bp.get("/contacts/<uuid:contact_id>")
@staff_page("contacts.read")
def contact_detail(contact_id):
    """Show a contact, its consent log and marketing eligibility per purpose."""
    contact = contacts.get(contact_id)
    contacts.audit_read([contact])
    return _render_contact(contact, ConsentForm())


def _render_contact(contact, consent_form, status: int = 200):
    eligibility = {purpose: contacts.marketing_eligibility(contact, purpose) for purpose in CONSENT_PURPOSES}
    personal = contacts.readable(contact)
    return render_template("console/controller/contact.html", contact=contact, personal=personal,
                           eligibility=eligibility, consent_form=consent_form, erase_form=EraseForm(),
                           review_form=ConfirmForm(),
                           unsubscribe_url=contacts.unsubscribe_url(contact) if personal is not None else None), status


@bp.post("/contacts/<uuid:contact_id>/consents")
@staff_page("contacts.write")
def contact_consent(contact_id):
    """Append a consent event."""
    contact = contacts.get(contact_id)
    form = ConsentForm()
    if not form.validate_on_submit():
        return _render_contact(contact, form, 400)
    contacts.record_consent(contact, form.purpose.data, form.action.data, form.evidence.data)
    flash(f"Consent {form.action.data} for {form.purpose.data.replace('_', ' ')} recorded.", "ok")
    return redirect(url_for(".contact_detail", contact_id=contact_id))


@bp.post("/contacts/<uuid:contact_id>/review")
@staff_page("contacts.write")
def contact_review(contact_id):
    """Re-confirm a contact at the quarterly review."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    contacts.update(contacts.get(contact_id), {"reviewed": True})
    flash("Contact re-confirmed; its 5-year retention restarts today.", "ok")
    return redirect(url_for(".contact_detail", contact_id=contact_id))


@bp.post("/contacts/<uuid:contact_id>/erase")
@staff_page("contacts.write")
def contact_erase(contact_id):
    """Erase a contact (its e-mail stays suppressed)."""
    contact = contacts.get(contact_id)
    form = EraseForm()
    if not form.validate_on_submit():
        flash("Tick the box to confirm the erasure.", "error")
        return _render_contact(contact, ConsentForm(), 400)
    contacts.erase(contact)
    flash("Contact erased; the address is on the suppression list.", "ok")
    return redirect(url_for(".contacts_list"))


# --- suppression list --------------------------------------------------------------------------

def _suppressions(lookup=None, add=None, *, found=None, looked_up: bool = False, error: str | None = None,
                  status: int = 200):
    return render_template("console/controller/suppressions.html", summary=suppression.summary(),
                           lookup=lookup or SuppressionLookupForm(formdata=None), add=add or SuppressionAddForm(formdata=None),
                           found=found, looked_up=looked_up, error=error), status


@bp.get("/suppressions")
@staff_page("contacts.read")
def suppressions():
    """The suppression list: counts, look-up of one address, manual add."""
    return _suppressions()


@bp.post("/suppressions/lookup")
@staff_page("contacts.read")
def suppression_lookup():
    """Whether an address is on the list (by its keyed hash; audited without it)."""
    form = SuppressionLookupForm()
    if not form.validate_on_submit():
        return _suppressions(lookup=form, error="Type an e-mail address.", status=400)
    try:
        found = contacts.look_up_suppression(form.email.data)
    except AppError as exc:
        return _suppressions(lookup=form, error=_first_error(exc), status=exc.status)
    return _suppressions(lookup=form, found=found, looked_up=True)


@bp.post("/suppressions")
@staff_page("contacts.write")
def suppression_add():
    """Put an address on the list by hand (only its keyed hash is kept)."""
    form = SuppressionAddForm()
    if not form.validate_on_submit():
        return _suppressions(add=form, error="Type an e-mail address and say why.", status=400)
    try:
        entry = contacts.suppress_address(form.email.data, form.reason.data)
    except AppError as exc:
        return _suppressions(add=form, error=_first_error(exc), status=exc.status)
    flash(f"The address is on the suppression list ({entry.reason}, since {entry.created_at:%Y-%m-%d}); "
          "imports and new contacts with it are refused.", "ok")
    return redirect(url_for(".suppressions"))


def _first_error(exc: AppError) -> str:
    details = "; ".join(" ".join(map(str, messages)) for field, messages in (exc.errors or {}).items()
                        if field != "contact_id")
    return f"{exc.message}{': ' + details if details else ''}"


# --- retention -------------------------------------------------------------------------------

@bp.get("/retention")
@staff_page("contacts.read")
def retention_report():
    """Show the last sweep's report and what a sweep would delete now."""
    return render_template("console/controller/retention.html", last=retention.last_sweep(),
                           running=retention.running_sweep(), preview=retention.preview())


# --- sub-processors --------------------------------------------------------------------------

@bp.get("/subprocessors")
@staff_page("subprocessors.read")
def subprocessors_list():
    """Show the register; DPO and admins can add entries."""
    return _render_register(SubprocessorForm())


def _render_register(form, status: int = 200):
    show_removed = request.args.get("removed") == "1"
    entries = subprocessors.list_subprocessors(include_removed=show_removed)
    return render_template("console/controller/subprocessors.html", entries=entries, form=form,
                           show_removed=show_removed, overdue=subprocessors.review_overdue), status


@bp.post("/subprocessors")
@staff_page("subprocessors.write")
def subprocessor_add():
    """Add a sub-processor."""
    form = SubprocessorForm()
    if not form.validate_on_submit():
        return _render_register(form, 400)
    try:
        subprocessors.add({name: getattr(form, name).data for name in subprocessors.FIELDS})
    except AppError as exc:
        flash(exc.message, "error")
        return _render_register(form, 400)
    flash("Sub-processor added.", "ok")
    return redirect(url_for(".subprocessors_list"))


@bp.route("/subprocessors/<uuid:subprocessor_id>", methods=["GET", "POST"])
@staff_page("subprocessors.write")
def subprocessor_edit(subprocessor_id):
    """Edit an entry."""
    entry = subprocessors.get(subprocessor_id)
    form = SubprocessorForm(obj=entry)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                subprocessors.update(entry, {name: getattr(form, name).data for name in subprocessors.FIELDS})
            except AppError as exc:
                flash(exc.message, "error")
            else:
                flash("Sub-processor updated.", "ok")
                return redirect(url_for(".subprocessors_list"))
        return render_template("console/controller/subprocessor_edit.html", entry=entry, form=form,
                               remove_form=ConfirmForm()), 400
    return render_template("console/controller/subprocessor_edit.html", entry=entry, form=form,
                           remove_form=ConfirmForm())


@bp.post("/subprocessors/<uuid:subprocessor_id>/remove")
@staff_page("subprocessors.write")
def subprocessor_remove(subprocessor_id):
    """Take an entry off the register (kept, dated)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    subprocessors.remove(subprocessors.get(subprocessor_id))
    flash("Sub-processor removed from the register.", "ok")
    return redirect(url_for(".subprocessors_list"))
