"""`privacy-saas tenants ...`: plan and apply the declarative tenant files, issue a tenant's API token."""
from __future__ import annotations

import sys
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


#: Exit status of an apply refused because it would revert console changes (make run tells it apart).
DRIFT_EXIT = 3


def _console_changes(accept: bool, override: bool) -> str:
    if accept and override:
        fail("--accept-console-changes and --override-console-changes exclude each other")
    return "accept" if accept else "override" if override else "refuse"


@tenants_cli.command("plan")
@click.argument("directory", required=False)
@with_appcontext
def tenants_plan(directory):
    """Show what `apply` would change, writing nothing (and what was changed in the console since)."""
    for change in service.plan(_load_specs(directory)):
        click.echo(change.describe())
    db.session.rollback()


@tenants_cli.command("apply")
@click.argument("directory", required=False)
@click.option("--yes", is_flag=True, help="Apply without asking.")
@click.option("--accept-console-changes", "accept", is_flag=True,
              help="Keep contract ends changed in the console or API; the files' other changes are applied.")
@click.option("--override-console-changes", "override", is_flag=True,
              help="Let the files revert contract ends changed in the console or API.")
@with_appcontext
def tenants_apply(directory, yes, accept, override):
    """Apply tenant files in one transaction (idempotent).

    A contract end changed in the console or API since the files were applied is never reverted
    silently: apply refuses (exit 3), naming tenant and field, until the file agrees or one of
    the two options says which side wins.
    """
    mode = _console_changes(accept, override)
    specs = _load_specs(directory)
    planned = service.plan(specs, console_changes=mode)
    for change in planned:
        click.echo(change.describe())
    drifted = [d for change in planned for d in change.drift]
    if drifted and mode == "refuse":
        db.session.rollback()
        for item in drifted:
            click.echo(f"refused: {item.describe()}", err=True)
        click.echo("error: nothing was applied. Edit the file to agree, or apply with --accept-console-changes "
                   "(keep the console's value) or --override-console-changes (the file wins).", err=True)
        sys.exit(DRIFT_EXIT)
    if not any(c.action in ("create", "update") for c in planned):
        click.echo("nothing to apply")
        db.session.rollback()
        return
    if not yes and not click.confirm("apply these changes?", default=False):
        fail("not applied")
    with committed(suffix="; nothing was applied"):
        service.apply(specs, console_changes=mode)
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
