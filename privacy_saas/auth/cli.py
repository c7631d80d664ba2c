"""`privacy-saas staff ...`: vendor staff accounts and their API tokens."""
from __future__ import annotations

import secrets
import sys

import click
from flask.cli import with_appcontext

from privacy_saas.auth import service, tokens
from privacy_saas.auth.models import STAFF_ROLES
from privacy_saas.cliutil import committed, fail
from privacy_saas.extensions import db


@click.group("staff")
def staff_cli():
    """Vendor staff accounts and tokens."""


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(STAFF_ROLES))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def staff_create(email, role, password_stdin):
    """Create a staff account."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with committed():
        staff = service.create_staff(email, role, password)
    click.echo(f"created staff {staff.email} ({staff.role})")


@staff_cli.command("token")
@click.argument("email")
@click.option("--name", default="cli", show_default=True)
@with_appcontext
def staff_token(email, name):
    """Print a new API token for a staff member (shown once)."""
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
    email = "demo-admin@vendor.example"
    if service.find_staff(email):
        click.echo(f"demo staff account {email} exists (its password was printed when it was created)")
        return
    password = secrets.token_urlsafe(12)
    service.create_staff(email, "admin", password)
    db.session.commit()
    click.echo(f"demo staff account created: {email} / {password}  (shown once)")
