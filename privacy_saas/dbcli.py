"""`privacy-saas db check-distribution`: the schema check, beside Flask-Migrate's `db upgrade` & co."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from privacy_saas import distribution
from privacy_saas.cliutil import fail
from privacy_saas.extensions import db


@click.command("check-distribution")
@with_appcontext
def check_distribution_cmd():
    """Check that every table can be distributed by tenant on Citus (see SCALING.md); exit 1 if not."""
    reports = distribution.check(db.metadata)
    width = max(len(r.name) for r in reports)
    for report in reports:
        state = "ok" if report.ok else "NOT DISTRIBUTABLE"
        click.echo(f"{report.name:<{width}}  {report.kind or '(unclassified)':<18}  {state}")
        for problem in report.problems:
            click.echo(f"{'':<{width}}    - {problem}")
    counts = ", ".join(f"{sum(r.kind == kind for r in reports)} {kind}" for kind in distribution.KINDS)
    bad = [r for r in reports if not r.ok]
    click.echo(f"{len(reports)} tables: {counts}")
    if bad:
        fail(f"{len(bad)} table(s) cannot be distributed by tenant: {', '.join(r.name for r in bad)}")
    click.echo("every table can be distributed by tenant")
