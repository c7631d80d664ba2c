"""Tenant admin console at /console/t: sign in, users, tokens, set password from an invitation."""
from __future__ import annotations

import io
import uuid
from datetime import date, timedelta
from functools import wraps

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from marshmallow import ValidationError

from privacy_saas import csvsafe
from privacy_saas.audit import service as audit_service
from privacy_saas.audit.schemas import AuditQuerySchema
from privacy_saas.audit.service import current_actor_label
from privacy_saas.auth.principal import current_tenant
from privacy_saas.console.forms import ConfirmForm
from privacy_saas.console.signin import sign_in_page, sign_out
from privacy_saas.console.tenant_forms import (
    AddUserForm,
    ImportForm,
    RejectForm,
    RoleForm,
    SetPasswordForm,
    TenantLoginForm,
    TokenForm,
)
from privacy_saas.crypto.errors import CryptoError
from privacy_saas.errors import AppError, NotFound
from privacy_saas.extensions import db, limiter
from privacy_saas.lifecycle import export as exports
from privacy_saas.processor.tenants import service as tenant_service
from privacy_saas.processor.users import importer, invitations, signin
from privacy_saas.processor.users import search as user_search
from privacy_saas.processor.users import service as users
from privacy_saas.processor.users import tokens as tenant_tokens
from privacy_saas.processor.users.models import ROLES, RegisteredUser
from privacy_saas.processor.users.models import STATUSES as USER_STATUSES
from privacy_saas.rights import exports as rights_exports
from privacy_saas.rights import service as rights
from privacy_saas.subprocessors import service as subprocessors

bp = Blueprint("tenant_console", __name__, url_prefix="/console/t", template_folder="templates")

PAGE_SIZE = 50


@bp.app_template_filter("readable_user")
def readable_user(user: RegisteredUser) -> bool:
    """Return whether the user's personal fields decrypt (a broken record must not break the page)."""
    try:
        user.email, user.display_name  # noqa: B018
    except CryptoError:
        return False
    return True


@bp.app_template_filter("user_label")
def user_label(user: RegisteredUser) -> str:
    """Return the name and e-mail to show for a user, or its id when it cannot be decrypted."""
    if not readable_user(user):
        return f"user {user.id} (cannot be decrypted)"
    return f"{user.display_name} <{user.email}>" if user.display_name else user.email


def _signed_in_user() -> RegisteredUser | None:
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return user if isinstance(user, RegisteredUser) else None


def admin_page(view):
    """Decorate a page: a signed-in admin of a tenant (the principal, so the audit actor); it gets `tenant=`."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user = _signed_in_user()
        if user is None:
            return redirect(url_for("tenant_console.login", next=request.path))
        if user.role != "admin":
            abort(403)
        return view(*args, tenant=current_tenant(), **kwargs)

    return wrapper


def _user(tenant, user_id: str) -> RegisteredUser:
    try:
        return users.get(tenant, uuid.UUID(user_id))
    except ValueError:
        raise NotFound("no such user") from None


# --- sign-in -------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    """Sign a registered user in (separate from staff sign-in)."""
    # The organisation comes pre-filled from the invitation mail's link or the arrival page.
    form = TenantLoginForm(organisation=(request.args.get("organisation") or "").strip()[:63])
    return sign_in_page(
        form, lambda form: signin.sign_in(form.organisation.data, form.email.data, form.password.data),
        template="console/tenant/login.html", within="/console/t/", home="tenant_console.home",
        refused=_refused_sign_in)


def _refused_sign_in(form: TenantLoginForm) -> str:
    # Only about what was typed: an unknown organisation is named as typed, a known one says nothing more.
    typed = form.organisation.data.strip()
    try:
        tenant_service.get_by_slug(typed.lower())
    except NotFound:
        return (f"There is no organisation “{typed}”. Type its short name (slug) from your invitation e-mail, "
                "e.g. acme — not its full name.")
    return "Wrong e-mail or password, or the account cannot sign in."


@bp.post("/logout")
def logout():
    """Sign out."""
    return sign_out("tenant_console.login")


@bp.get("/")
def home():
    """Admins manage users; members only see that they are signed in."""
    user = _signed_in_user()
    if user is None:
        return redirect(url_for("tenant_console.login"))
    if user.role == "admin":
        return redirect(url_for("tenant_console.user_list"))
    return render_template("console/tenant/account.html", tenant=user.tenant, form=ConfirmForm())


# --- users ---------------------------------------------------------------------------------

def _list_args() -> dict:
    """The list's filters as typed: search text, status, role (unknown values are dropped, not an error)."""
    args = {"q": " ".join((request.args.get("q") or request.args.get("email") or "").split())[:254],
            "status": request.args.get("status") or "", "role": request.args.get("role") or ""}
    args["status"] = args["status"] if args["status"] in USER_STATUSES else ""
    args["role"] = args["role"] if args["role"] in ROLES else ""
    return args


def _users_page(tenant, *, error: str | None = None, error_user=None, status: int = 200):
    args = _list_args()
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10**6)
    filters = {"status": args["status"] or None, "role": args["role"] or None}
    if args["q"]:
        items, total = user_search.search(tenant, args["q"], page_number=page, page_size=PAGE_SIZE, **filters)
    else:
        items, total = users.list_for(tenant, page_number=page, page_size=PAGE_SIZE, **filters)
    # The last active admin is offered no action that would be refused (disable, remove, demote).
    admins = users.count_active_admins(tenant)
    return render_template("console/tenant/users.html", tenant=tenant, users=items, total=total, page=page,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), args=args,
                           link_args={key: value for key, value in args.items() if value},
                           filtered=any(args.values()), sole_admin=admins <= 1, writable=tenant.accepts_writes,
                           error=error, error_user=error_user, role_form=RoleForm(), form=ConfirmForm()), status


@bp.get("/users")
@admin_page
def user_list(tenant):
    """List the tenant's users: search by part of a name or e-mail, filter by status and role."""
    return _users_page(tenant)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_page
def user_add(tenant):
    """Add a user and show the set-password link once."""
    form = AddUserForm()
    if form.validate_on_submit():
        try:
            user = users.create(tenant, email=form.email.data, display_name=form.display_name.data or None,
                                role=form.role.data, invite=True)
        except AppError as exc:
            flash(exc.message, "error")
            return render_template("console/tenant/user_add.html", tenant=tenant, form=form), exc.status
        return render_template("console/tenant/invited.html", tenant=tenant, user=user,
                               invitation=user.invitation), 201
    return render_template("console/tenant/user_add.html", tenant=tenant, form=form), \
        400 if request.method == "POST" else 200


def _act(tenant, user, action, message: str, refused_page=None):
    """Run a user action; a refusal (last admin, ended tenant) shows on the page it came from, not an error page."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        action()
    except AppError as exc:
        db.session.rollback()
        if refused_page is not None:
            return refused_page(exc)
        return _users_page(tenant, error=exc.message, error_user=user.id, status=exc.status)
    flash(message, "ok")
    return redirect(url_for("tenant_console.user_list"))


@bp.post("/users/<user_id>/role")
@admin_page
def user_role(tenant, user_id: str):
    """Change a user's role."""
    form = RoleForm()
    if not form.validate_on_submit():
        abort(400)
    user = _user(tenant, user_id)
    return _act(tenant, user, lambda: users.update(tenant, user, role=form.role.data),
                f"Role changed to {form.role.data}.")


@bp.route("/users/<user_id>/disable", methods=["GET", "POST"])
@admin_page
def user_disable(tenant, user_id: str):
    """Confirm (GET), then disable a user: they can no longer sign in; nothing is erased."""
    user = _user(tenant, user_id)
    if request.method == "GET":
        return render_template("console/tenant/user_disable.html", tenant=tenant, user=user, form=ConfirmForm())

    def refused(exc):
        return render_template("console/tenant/user_disable.html", tenant=tenant, user=user, form=ConfirmForm(),
                               error=exc.message), exc.status

    return _act(tenant, user, lambda: users.disable(tenant, user), "User disabled.", refused)


@bp.post("/users/<user_id>/enable")
@admin_page
def user_enable(tenant, user_id: str):
    user = _user(tenant, user_id)
    return _act(tenant, user, lambda: users.enable(tenant, user), "User enabled.")


@bp.post("/users/<user_id>/invite")
@admin_page
def user_invite(tenant, user_id: str):
    """Issue a new set-password link (older ones stop working)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    user = _user(tenant, user_id)
    invitation = invitations.invite_user(tenant, user)
    return render_template("console/tenant/invited.html", tenant=tenant, user=user, invitation=invitation)


@bp.route("/users/<user_id>/remove", methods=["GET", "POST"])
@admin_page
def user_remove(tenant, user_id: str):
    """Confirm, then remove a user (their personal data is erased now)."""
    user = _user(tenant, user_id)
    form = ConfirmForm()
    if request.method == "POST":
        def refused(exc):
            return render_template("console/tenant/user_remove.html", tenant=tenant, user=user, form=form,
                                   error=exc.message), exc.status

        return _act(tenant, user, lambda: users.remove(tenant, user), "User removed; their personal data is erased.",
                    refused)
    return render_template("console/tenant/user_remove.html", tenant=tenant, user=user, form=form)


# --- CSV import ----------------------------------------------------------------------------

#: Uploads larger than this are refused before parsing (the API's bulk limit applies to it too).
IMPORT_MAX_BYTES = 5 * 1024 * 1024
REJECT_COLUMNS = ("line", "email", "name", "role", "error")


def _reject_rows(text: str, result) -> list[list]:
    """The rejected rows as typed, each with its line and what was wrong (for the page and the download)."""
    typed = dict(importer.parse_csv(text))
    rows = []
    for error in result.errors:
        values = typed.get(error["line"], {})
        reasons = "; ".join(f"{'row' if field == '_row' else field}: {' '.join(map(str, messages))}"
                            for field, messages in error["errors"].items())
        rows.append([error["line"], values.get("email", ""), values.get("name", ""), values.get("role", ""), reasons])
    return rows


@bp.route("/users/import", methods=["GET", "POST"])
@admin_page
def user_import(tenant):
    """Upload an `email,name,role` CSV: each line is added or reported; the rejected lines can be downloaded."""
    form = ImportForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("console/tenant/import.html", tenant=tenant, form=form, result=None), status
    data = form.file.data.read(IMPORT_MAX_BYTES + 1)
    error = None
    if len(data) > IMPORT_MAX_BYTES:
        error = f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB: split it."
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            error = "The file is not UTF-8 text: save it as CSV UTF-8."
    if error is None:
        try:
            result = importer.import_csv(tenant, text, actor=g.principal.actor)
        except AppError as exc:
            db.session.rollback()
            error = exc.message
    if error is not None:
        return render_template("console/tenant/import.html", tenant=tenant, form=form, result=None, error=error), 400
    rejects = _reject_rows(text, result)
    buffer = io.StringIO()
    csvsafe.Writer(buffer).writerows([REJECT_COLUMNS, *rejects])
    return render_template("console/tenant/import.html", tenant=tenant, form=ImportForm(formdata=None), result=result,
                           rejects=rejects, rejects_csv=buffer.getvalue(), download=ConfirmForm())


@bp.post("/users/import/rejects.csv")
@admin_page
def user_import_rejects(tenant):
    """Hand back the rejected lines the report page holds as a CSV file (nothing is kept on the server)."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    body = (request.form.get("rejects") or "")[:IMPORT_MAX_BYTES]
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="rejected-users.csv"'})


# --- the tenant's own audit log ---------------------------------------------------------------

AUDIT_PAGE = 50


def _audit_filters() -> tuple[dict, dict, str | None]:
    """The page's filters as typed, and as the audit API takes them (its schema's bounds); days are whole."""
    args = {key: (request.args.get(key) or "").strip()[:100] for key in ("action", "outcome", "since", "until")}
    payload = {key: args[key] for key in ("action", "outcome") if args[key]}
    for key in ("since", "until"):
        if args[key]:
            try:
                day = date.fromisoformat(args[key])
            except ValueError:
                return args, {}, f"“{args[key]}” is not a date (YYYY-MM-DD)."
            # `until` includes its day: the API's bound is exclusive.
            payload[key] = (day + timedelta(days=1 if key == "until" else 0)).isoformat() + "T00:00:00"
    try:
        query = AuditQuerySchema().load(payload)
    except ValidationError as exc:
        return args, {}, "; ".join(f"{field}: {' '.join(map(str, messages))}"
                                   for field, messages in exc.messages.items())
    return args, query, None


@bp.get("/audit")
@admin_page
def audit_page(tenant):
    """The tenant's own audit chain: who did what, when; filters and a CSV export."""
    args, filters, error = _audit_filters()
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), 10**6)
    entries, total = audit_service.list_entries(page_number=page, page_size=AUDIT_PAGE, tenant_id=tenant.id, **filters)
    actors = _actor_labels(tenant, entries)
    return render_template("console/tenant/audit.html", tenant=tenant, entries=entries, total=total, page=page,
                           pages=max((total + AUDIT_PAGE - 1) // AUDIT_PAGE, 1), args=args, error=error,
                           link_args={key: value for key, value in args.items() if value},
                           actors=actors), 400 if error else 200


def _actor_labels(tenant, entries) -> dict:
    """Name the tenant's own users among the page's actors (staff and systems keep their kind)."""
    labels = {}
    for entry in entries:
        if entry.actor_kind in ("tenant_admin", "registered_user") and entry.actor_id and entry.actor_id not in labels:
            try:
                labels[entry.actor_id] = user_label(users.get(tenant, uuid.UUID(entry.actor_id)))
            except (ValueError, NotFound):
                labels[entry.actor_id] = f"removed user {entry.actor_id}"
    return labels


@bp.get("/audit.csv")
@admin_page
def audit_csv(tenant):
    """The filtered chain as CSV (at most 100,000 entries)."""
    _args, filters, error = _audit_filters()
    if error:
        abort(400, error)
    return Response(stream_with_context(audit_service.iter_csv(100_000, tenant_id=tenant.id, **filters)),
                    mimetype="text/csv", headers={"Content-Disposition": 'attachment; filename="audit.csv"'})


# --- tokens --------------------------------------------------------------------------------

@bp.route("/tokens", methods=["GET", "POST"])
@admin_page
def token_list(tenant):
    """List the tenant's API tokens; create one (shown once)."""
    form = TokenForm()
    created = None
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            _token, created = tenant_tokens.create_token(tenant, form.name.data)
            status = 201
        else:
            status = 400
    return render_template("console/tenant/tokens.html", tenant=tenant, tokens=tenant_tokens.list_tokens(tenant),
                           form=form, created=created, revoke_form=ConfirmForm()), status


@bp.post("/tokens/<token_id>/revoke")
@admin_page
def token_revoke(tenant, token_id: str):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        tenant_tokens.revoke_token(tenant, uuid.UUID(token_id))
    except ValueError:
        raise NotFound("no such token") from None
    flash("Token revoked.", "ok")
    return redirect(url_for("tenant_console.token_list"))


# --- invitations ---------------------------------------------------------------------------

@bp.route("/set-password/<secret>", methods=["GET", "POST"])
@limiter.limit("20/minute", methods=["POST"])
def set_password(secret: str):
    """Set a password from a one-time invitation link."""
    _invitation, user, tenant = invitations.find_invitation(secret)
    form = SetPasswordForm()
    if form.validate_on_submit():
        invitations.set_password(secret, form.password.data)
        flash(f"Password set. Sign in to {tenant.name} (organisation: {tenant.slug}) with your e-mail address.", "ok")
        return redirect(url_for("tenant_console.login", organisation=tenant.slug))
    return render_template("console/tenant/set_password.html", form=form, tenant=tenant), \
        400 if request.method == "POST" else 200


# --- return export and sub-processors --------------------------------------------------------

@bp.route("/export", methods=["GET", "POST"])
@admin_page
def export_page(tenant):
    """Request and download the return export (after contract end, for return_then_delete)."""
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        exports.request_export(tenant, g.principal.actor[1])
        flash("Export requested: it appears below when ready.", "ok")
        return redirect(url_for("tenant_console.export_page"))
    return render_template("console/tenant/export.html", tenant=tenant, exports=exports.list_exports(tenant),
                           form=form, purge_due_on=tenant.purge_due_on)


@bp.get("/subprocessors")
@admin_page
def subprocessors_page(tenant):
    """The vendor's sub-processors that touch the tenant's data (read-only), with the dates each came and went."""
    return render_template("console/tenant/subprocessors.html", tenant=tenant,
                           subprocessors=subprocessors.list_subprocessors(include_removed=True, region=tenant.region),
                           show_removed=True)


# --- data-subject requests forwarded to this tenant (the controller) -------------------------

def _subject(tenant, user_id) -> RegisteredUser | None:
    try:
        return users.get(tenant, user_id)
    except NotFound:
        return None  # erased since


@bp.get("/instructions")
@admin_page
def instructions_page(tenant):
    """Requests about this tenant's users that the vendor forwarded for a decision."""
    tasks = rights.list_instructions(tenant)
    subjects = {t.subject_id: _subject(tenant, t.subject_id) for t in tasks}
    return render_template("console/tenant/instructions.html", tenant=tenant, tasks=tasks, subjects=subjects,
                           form=ConfirmForm(), reject_form=RejectForm())


@bp.post("/instructions/<uuid:task_id>/approve")
@admin_page
def instruction_approve(tenant, task_id):
    """Approve: the vendor carries the request out on this instruction."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rights.approve(rights.get_instruction(tenant, task_id), current_actor_label())
    flash("Approved: the request is being carried out.", "ok")
    return redirect(url_for("tenant_console.instructions_page"))


@bp.post("/instructions/<uuid:task_id>/export")
@admin_page
def instruction_export(tenant, task_id):
    """Download an approved access or portability request's export, once (as the API does)."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    task = rights.get_instruction(tenant, task_id)
    return Response(rights_exports.download(task), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="subject-export-{task.id}.zip"'})


@bp.post("/instructions/<uuid:task_id>/reject")
@admin_page
def instruction_reject(tenant, task_id):
    """Reject, with the reason the requester will be given."""
    form = RejectForm()
    if not form.validate_on_submit():
        flash("A rejection needs a reason.", "error")
        return redirect(url_for("tenant_console.instructions_page"))
    rights.reject(rights.get_instruction(tenant, task_id), current_actor_label(),
                  form.reason.data)
    flash("Rejected.", "ok")
    return redirect(url_for("tenant_console.instructions_page"))
