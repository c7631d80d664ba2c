"""`privacy-saas dsr ...`: deadlines for cron, export expiry."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.rights import exports, service


@click.group("dsr", help="Data-subject requests.")
def dsr_cli():
    pass


@dsr_cli.command("overdue")
@with_appcontext
def overdue_cmd():
    """List open requests past their deadline (ids, kinds, deadlines; exit 0)."""
    now = clock.now()
    rows = service.list_requests(overdue=True)
    for request in rows:
        late = (now - request.due_at).days
        pending = sum(t.status in ("pending", "approved") for t in request.tasks)
        click.echo(f"{request.id}  {request.kind:<11}  due {request.due_at:%Y-%m-%d}  "
                   f"{late} days late  {pending} open tasks")
    click.echo(f"{len(rows)} overdue requests")


@dsr_cli.command("expire-exports")
@with_appcontext
def expire_exports_cmd():
    """Delete access/portability exports older than 30 days."""
    count = exports.expire_due()
    db.session.commit()
    click.echo(f"{count} exports deleted")
