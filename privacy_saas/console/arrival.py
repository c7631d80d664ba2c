"""The front door: `/` leads to the two sign-ins (vendor staff; an organisation's users), and
`privacy-saas demo welcome` prints how to get in to a local instance (what `make run` ends with)."""
from __future__ import annotations

import secrets
from pathlib import Path

import click
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.cli import with_appcontext

from privacy_saas import audit, mail
from privacy_saas.auth import service as staff_service
from privacy_saas.auth.passwords import hash_password
from privacy_saas.cliutil import fail
from privacy_saas.errors import NotFound
from privacy_saas.extensions import db
from privacy_saas.links import external_url, public_base
from privacy_saas.processor.tenants import service as tenant_service
from privacy_saas.processor.tenants.files import load_dir
from privacy_saas.processor.users import invitations
from privacy_saas.processor.users import service as users

bp = Blueprint("arrival", __name__, template_folder="templates")

#: The demo staff account `make run` offers (an admin: every staff page).
DEMO_STAFF = "demo-admin@vendor.example"


@bp.get("/")
def arrival():
    """Choose a sign-in: vendor staff, or an organisation's users (by its slug)."""
    organisation = (request.args.get("organisation") or "").strip()
    if organisation:
        return redirect(url_for("tenant_console.login", organisation=organisation))
    return render_template("console/arrival.html")


@click.group("demo")
def demo_cli():
    """The local demo instance (`make run`)."""


def _demo_staff_password() -> str:
    """Create the demo staff admin, or give it a new password: the banner always shows working credentials."""
    password = secrets.token_urlsafe(12)
    staff = staff_service.find_staff(DEMO_STAFF)
    if staff is None:
        staff = staff_service.create_staff(DEMO_STAFF, "admin", password)
    else:
        staff.password_hash = hash_password(password)
        staff.failed_logins, staff.locked_until, staff.active = 0, None, True
    audit.record("staff.demo_password", targets=[staff.id], actor=("system", None))
    return password


def _admin_lines(directory: Path) -> list[str]:
    specs, _errors = load_dir(directory) if directory.is_dir() else ([], [])
    lines = []
    for spec in specs:
        try:
            tenant = tenant_service.get_by_slug(spec.slug)
        except NotFound:
            continue
        sign_in = external_url("tenant_console.login", organisation=tenant.slug)
        lines.append(f"{tenant.name} (organisation: {tenant.slug}, {tenant.status}) — sign in: {sign_in}")
        for email, _name in spec.admins:
            user = users.find_by_email(tenant, email)
            if user is None:
                continue
            if user.password_hash is not None:
                lines.append(f"    {email}: has set a password")
            elif tenant.accepts_writes:
                link = invitations.invite_user(tenant, user, actor=("system", None)).url
                lines.append(f"    {email}: set a password at {link}")
        lines.append(f"    their mails: {mail.outbox_dir(tenant.id)}/")
    return lines


@demo_cli.command("welcome")
@click.option("--tenants-dir", default="tenants", show_default=True, help="The tenant files `make run` applied.")
@with_appcontext
def demo_welcome(tenants_dir):
    """Print the framed block `make run` ends with: URL, demo staff sign-in, tenant admins' invitation links.

    Gives the demo staff account a new password and each demo tenant admin who has not set a
    password yet a fresh invitation (older links stop working); the mails land in the outbox.
    """
    if current_app.config.get("MAIL_SMTP_HOST"):
        fail("demo welcome is for a local instance whose mail goes to the outbox (MAIL_SMTP_HOST is set)")
    password = _demo_staff_password()
    admins = _admin_lines(Path(tenants_dir))
    db.session.commit()
    base = public_base()
    lines = [f"privacy_saas is running at {base}/",
             "",
             f"Vendor staff: {external_url('console.login')}",
             f"    {DEMO_STAFF} / {password}   (a new password at each `make run`)",
             "",
             "Client organisations (their admins sign in with the organisation's slug):",
             *[f"  {line}" for line in admins or ["(no tenant files applied)"]]]
    width = max(len(line) for line in lines) + 2
    click.echo("┌" + "─" * width + "┐")
    for line in lines:
        click.echo(f"│ {line:<{width - 1}}│")
    click.echo("└" + "─" * width + "┘")
