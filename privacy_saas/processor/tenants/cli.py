"""`privacy-saas tenants ...`: plan and apply the declarative tenant files, issue a tenant's API token."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from privacy_saas.cliutil import committed, fail
from privacy_saas.extensions import db
from privacy_saas.processor.tenants import service
from privacy_saas.processor.tenants.files import TenantSpec, load_dir
from privacy_saas.processor.users.tokens import create_token


@click.group("tenants")
def tenants_cli():
    """Declarative tenant files: plan and apply."""


def _load_specs(directory: str | None) -> list[TenantSpec]:
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
    for change in service.plan(_load_specs(directory)):
        click.echo(change.describe())
    db.session.rollback()


@tenants_cli.command("apply")
@click.argument("directory", required=False)
@click.option("--yes", is_flag=True, help="Apply without asking.")
@with_appcontext
def tenants_apply(directory, yes):
    """Apply tenant files in one transaction (idempotent)."""
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
    with committed(suffix="; nothing was applied"):
        service.apply(specs)
    click.echo("applied")


@tenants_cli.command("token")
@click.argument("slug")
@click.option("--name", default="cli", show_default=True, help="A label for the token.")
@with_appcontext
def tenants_token(slug, name):
    """Print a new API token for tenant SLUG (shown once; only its hash is stored)."""
    with committed():
        _token, plaintext = create_token(service.get_by_slug(slug), name, actor=("cli", None))
    click.echo(plaintext)
