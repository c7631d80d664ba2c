"""`privacy-saas users ...`: a tenant's registered users."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from privacy_saas.cliutil import committed, fail
from privacy_saas.extensions import db
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.processor.users import importer


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
    try:
        text = Path(csv_file).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{csv_file} is not UTF-8 text")
    try:
        with committed():
            tenant = tenants.get_by_slug(slug)
            rows = list(importer.parse_csv(text))
            with tqdm(total=len(rows), unit="row", desc="import") as bar:
                result = importer.import_rows(tenant, rows, invite=not no_invite, actor=("cli", None),
                                              on_row=lambda _line: bar.update())
    except csv.Error as exc:
        db.session.rollback()
        fail(f"{csv_file}: {exc}")
    for error in result.errors:
        fields = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in error["errors"].items())
        click.echo(f"line {error['line']}: rejected ({fields})", err=True)
    click.echo(f"created {result.created}, unchanged {result.unchanged}, rejected {result.rejected}")
    if result.rejected:
        sys.exit(2)
