"""The `privacy-saas` command line (also available as `flask --app wsgi ...`)."""
from __future__ import annotations

import secrets
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from privacy_saas.errors import AppError
from privacy_saas.extensions import db


def fail(message: str) -> None:
    """Print `message` to stderr and exit 1."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


# --- tenants -------------------------------------------------------------------------------

@click.group("tenants")
def tenants_cli():
    """Declarative tenant files: plan and apply."""


def _load_specs(directory: str | None):
    from privacy_saas.processor.tenants.files import load_dir

    path = Path(directory or current_app.config["TENANTS_DIR"])
    specs, errors = load_dir(path)
    if errors:
        for error in errors:
            click.echo(f"invalid: {error}", err=True)
        fail(f"{len(errors)} problem(s) in {path}; nothing was applied")
    return specs


@tenants_cli.command("plan")
@click.argument("directory", required=False)
@with_appcontext
def tenants_plan(directory):
    """Show what `apply` would change, writing nothing."""
    from privacy_saas.processor.tenants import service

    for change in service.plan(_load_specs(directory)):
        click.echo(change.describe())
    db.session.rollback()


@tenants_cli.command("apply")
@click.argument("directory", required=False)
@click.option("--yes", is_flag=True, help="Apply without asking.")
@with_appcontext
def tenants_apply(directory, yes):
    """Apply tenant files in one transaction (idempotent)."""
    from privacy_saas.processor.tenants import service

    specs = _load_specs(directory)
    planned = service.plan(specs)
    for change in planned:
        click.echo(change.describe())
    if not any(c.action in ("create", "update") for c in planned):
        click.echo("nothing to apply")
        db.session.rollback()
        return
    if not yes and not click.confirm("apply these changes?", default=False):
        fail("not applied")
    try:
        service.apply(specs)
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        fail(f"{exc.message}; nothing was applied")
    click.echo("applied")


@tenants_cli.command("token")
@click.argument("slug")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@with_appcontext
def tenants_token(slug, name):
    """Print a new API token for tenant SLUG (shown once; only its hash is stored)."""
    from privacy_saas.processor.tenants import service as tenants
    from privacy_saas.processor.users.tokens import create_token

    try:
        _token, plaintext = create_token(tenants.get_by_slug(slug), name, actor=("cli", None))
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        fail(exc.message)
    click.echo(plaintext)


# --- registered users ----------------------------------------------------------------------

@click.group("users")
def users_cli():
    """A tenant's registered users."""


@users_cli.command("import")
@click.argument("slug")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--no-invite", is_flag=True, help="Do not send set-password invitations.")
@with_appcontext
def users_import(slug, csv_file, no_invite):
    """Add users from an `email,name,role` CSV; bad rows are reported by line and skipped."""
    import csv

    from tqdm import tqdm

    from privacy_saas.processor.tenants import service as tenants
    from privacy_saas.processor.users import service as users

    try:
        text = Path(csv_file).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{csv_file} is not UTF-8 text")
    try:
        tenant = tenants.get_by_slug(slug)
        rows = list(users.parse_csv(text))
        with tqdm(total=len(rows), unit="row", desc="import") as bar:
            result = users.import_rows(tenant, rows, invite=not no_invite, actor=("cli", None),
                                       on_row=lambda _line: bar.update())
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        fail(exc.message)
    except csv.Error as exc:
        db.session.rollback()
        fail(f"{csv_file}: {exc}")
    for error in result.errors:
        fields = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in error["errors"].items())
        click.echo(f"line {error['line']}: rejected ({fields})", err=True)
    click.echo(f"created {result.created}, unchanged {result.unchanged}, rejected {result.rejected}")
    if result.rejected:
        sys.exit(2)


# --- staff ---------------------------------------------------------------------------------

@click.group("staff")
def staff_cli():
    """Vendor staff accounts and tokens."""


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["support", "account_manager", "dpo", "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def staff_create(email, role, password_stdin):
    """Create a staff account."""
    from privacy_saas.auth import service

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        staff = service.create_staff(email, role, password)
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        fail(exc.message)
    click.echo(f"created staff {staff.email} ({staff.role})")


@staff_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
@with_appcontext
def staff_token(email, name):
    """Print a new API token for a staff member (shown once)."""
    from privacy_saas.auth import service, tokens

    staff = service.find_staff(email)
    if staff is None:
        fail(f"no staff member {email}")
    _token, plaintext = tokens.issue(kind="staff", name=name, staff_id=staff.id)
    db.session.commit()
    click.echo(plaintext)


@staff_cli.command("demo")
@with_appcontext
def staff_demo():
    """Create the demo admin account once, printing its credentials."""
    from privacy_saas.auth import service

    email = "demo-admin@vendor.example"
    if service.find_staff(email):
        click.echo(f"demo staff account {email} exists (its password was printed when it was created)")
        return
    password = secrets.token_urlsafe(12)
    service.create_staff(email, "admin", password)
    db.session.commit()
    click.echo(f"demo staff account created: {email} / {password}  (shown once)")


# --- audit ---------------------------------------------------------------------------------

@click.group("audit")
def audit_cli():
    """The hash-chained audit log."""


@audit_cli.command("verify")
@click.option("--scope", "slug", help="A tenant slug, `controller` or `platform` (default: every chain).")
@with_appcontext
def audit_verify(slug):
    """Walk the chains; exit 1 at the first broken link."""
    from privacy_saas.audit.service import verify

    scope = slug
    if slug and slug not in ("controller", "platform"):
        from privacy_saas.processor.tenants import service as tenants

        try:
            scope = f"tenant:{tenants.get_by_slug(slug).id}"
        except AppError as exc:
            fail(exc.message)
    reports = verify(scope)
    broken = [r for r in reports if r.broken_at is not None]
    for report in reports:
        state = f"BROKEN at #{report.broken_at} ({report.reason})" if report.broken_at else "OK"
        click.echo(f"{report.scope:<48} {report.entries:>8} entries  {state}")
    if broken:
        sys.exit(1)
    click.echo(f"OK: {len(reports)} chain(s), {sum(r.entries for r in reports)} entries")


def register(app: Flask) -> None:
    """Attach the command groups to the app's CLI."""
    from privacy_saas.controller.cli import contacts_cli, controller_cli, retention_cli
    from privacy_saas.crypto.cli import keys_cli
    from privacy_saas.jobs.cli import jobs_cli, worker_cmd
    from privacy_saas.lifecycle.cli import certificates_cli, purge_cli
    from privacy_saas.notices.cli import breaches_cli, subprocessors_cli
    from privacy_saas.records.cli import records_cli
    from privacy_saas.rights.cli import dsr_cli

    for group in (tenants_cli, users_cli, staff_cli, keys_cli, audit_cli, purge_cli, certificates_cli, worker_cmd,
                  jobs_cli, controller_cli, contacts_cli, retention_cli, dsr_cli, records_cli, breaches_cli,
                  subprocessors_cli):
        app.cli.add_command(group)


def _create_app():
    from privacy_saas import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, help="privacy_saas administration.")
