"""`privacy-saas audit ...`: verify the hash chains."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from privacy_saas.audit.service import scope_of, verify
from privacy_saas.cliutil import fail
from privacy_saas.errors import AppError
from privacy_saas.processor.tenants import service as tenants


@click.group("audit")
def audit_cli():
    """The hash-chained audit log."""


@audit_cli.command("verify")
@click.option("--scope", "slug", help="A tenant slug, `controller` or `platform` (default: every chain).")
@with_appcontext
def audit_verify(slug):
    """Walk the chains; exit 1 at the first broken link."""
    scope = slug
    if slug and slug not in ("controller", "platform"):
        try:
            scope = scope_of(tenants.get_by_slug(slug).id)
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
