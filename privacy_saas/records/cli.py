"""`privacy-saas records`: the Art. 30 records and tenant inventories from the command line."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext

from privacy_saas.cliutil import fail
from privacy_saas.datamap import catalogue
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.records import art30, formats, inventory


@click.group("records")
def records_cli():
    """Records of processing (Art. 30), tenant inventories and the data map they come from."""


@records_cli.command("art30")
@click.option("--scope", required=True, type=click.Choice(art30.RECORD_SCOPES),
              help="processor (Art. 30(2)) or controller (Art. 30(1)).")
@click.option("--format", "fmt", default="md", show_default=True, type=click.Choice(list(formats.FORMATS)))
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to a file, not stdout.")
@with_appcontext
def records_art30(scope, fmt, output):
    """Print the Art. 30 record of a scope, generated from the data map."""
    try:
        text = formats.render(art30.record(scope), fmt)
    except (AppError, catalogue.DataMapError) as exc:
        db.session.rollback()
        fail(getattr(exc, "message", None) or str(exc))
    db.session.rollback()  # read-only
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"{scope} record written to {output}", err=True)
    else:
        click.echo(text, nl=False)


@records_cli.command("inventory")
@click.argument("slug")
@with_appcontext
def records_inventory(slug):
    """Print a tenant's inventory as JSON (counts and dates only, nothing decrypted)."""
    try:
        found = inventory.inventory(tenants.get_by_slug(slug))
    except AppError as exc:
        db.session.rollback()
        fail(exc.message)
    db.session.rollback()
    click.echo(json.dumps(found, indent=2))


@records_cli.command("check")
@with_appcontext
def records_check():
    """List what the data map lacks (undeclared columns, unknown rules, unjustified plaintext); exit 1 if any."""
    problems = catalogue.problems()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        fail(f"{len(problems)} problem(s) in the data map")
    click.echo(f"data map complete: {len(catalogue.entries())} columns declared")
