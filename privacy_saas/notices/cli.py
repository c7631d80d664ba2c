"""`privacy-saas breaches ...` and `privacy-saas subprocessors ...`: the register's changes and breaches for operators."""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from privacy_saas import clock
from privacy_saas.cliutil import fail
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.notices import breaches, changes
from privacy_saas.notices.schemas import BreachInSchema, SubprocessorChangeInSchema


def _load(schema, file: str) -> dict:
    """Read a JSON body (the API's) from `file` and validate it, or exit 1 naming the fields."""
    try:
        raw = json.loads(Path(file).read_text(encoding="utf-8"))
        return schema.load(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"{file} is not JSON text ({exc})")
    except ValidationError as exc:
        fail(f"{file}: " + "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                                     for k, v in exc.messages.items()))


def _commit_or_fail(action):
    try:
        result = action()
        db.session.commit()
    except AppError as exc:
        db.session.rollback()
        detail = "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
        fail(exc.message + (f" ({detail})" if detail else ""))
    return result


# --- breaches ----------------------------------------------------------------------------------

@click.group("breaches")
def breaches_cli():
    """The breach register and its notification deadlines."""


@breaches_cli.command("overdue")
@with_appcontext
def breaches_overdue():
    """List notification deadlines passed with nobody told (tenants, supervisory authority); exit 0."""
    now = clock.now()
    items = breaches.overdue(now)
    for item in items:
        late = (now - item.deadline).total_seconds() / 3600
        click.echo(f"{item.deadline:%Y-%m-%d %H:%M}Z  {late:7.1f} h overdue  breach {item.breach.id}  "
                   f"{item.breach.scope:<10}  {item.whom}")
    click.echo(f"{len(items)} overdue notification(s)")


@breaches_cli.command("list")
@with_appcontext
def breaches_list():
    """List the register (ids, scopes, dates, tenants told), most recently discovered first."""
    for breach in breaches.list_breaches():
        told = breaches.notifications(breach)
        sent = sum(n.first.delivered_at is not None for n in told)
        state = (f"{sent}/{len(told)} tenants notified" if breach.scope == "processor"
                 else f"authority: {breach.authority_decision or 'undecided'}")
        click.echo(f"{breach.id}  {breach.scope:<10}  aware {breach.aware_at:%Y-%m-%d %H:%M}Z  {state}")


@breaches_cli.command("record")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def breaches_record(file):
    """Record a breach from a JSON file holding the body of POST /api/v1/breaches."""
    data = _load(BreachInSchema(), file)
    notify = data.pop("notify")
    breach = _commit_or_fail(lambda: breaches.record(data, notify=notify))
    click.echo(f"recorded breach {breach.id} ({breach.scope} scope)")
    if breach.authority_deadline:
        click.echo(f"supervisory authority due by {breach.authority_deadline:%Y-%m-%d %H:%M}Z")
    for item in breaches.notifications(breach):
        click.echo(f"  {item.tenant.slug:<24} notify by {item.first.deadline:%Y-%m-%d %H:%M}Z"
                   f"{'  sent' if item.first.sent else ''}")


@breaches_cli.command("notify")
@click.argument("breach_id", type=click.UUID)
@click.option("--tenant", "slugs", multiple=True, help="Only this tenant (repeatable); default: all not yet told.")
@click.option("--channel", type=click.Choice(["email", "other"]), default="email", show_default=True,
              help="other: you already told them another way (recorded as delivered).")
@with_appcontext
def breaches_notify(breach_id, slugs, channel):
    """Send a breach's first notice to the affected tenants not yet notified."""
    sent = _commit_or_fail(lambda: breaches.notify_tenants(breaches.get(breach_id, lock=True), list(slugs) or None, channel))
    click.echo(f"{len(sent)} tenant(s) notified by {channel}")


# --- sub-processor changes ---------------------------------------------------------------------

@click.group("subprocessors")
def subprocessors_cli():
    """Changes to the sub-processor register, announced to tenants first."""


@subprocessors_cli.command("propose")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--draft", is_flag=True, help="Record without publishing.")
@with_appcontext
def subprocessors_propose(file, draft):
    """Propose a change from a JSON file holding the body of POST /api/v1/subprocessors/changes."""
    data = _load(SubprocessorChangeInSchema(), file)
    publish = not (draft or data.pop("draft"))
    change = _commit_or_fail(lambda: changes.propose(data, publish=publish))
    told = len(changes.notices_of(change))
    click.echo(f"change {change.id} {change.status}: {change.action} {change.name}, effective {change.effective_on}"
               + (f", {told} tenant(s) notified" if publish else ""))


@subprocessors_cli.command("publish")
@click.argument("change_id", type=click.UUID)
@with_appcontext
def subprocessors_publish(change_id):
    """Publish a draft change to every affected tenant."""
    change = _commit_or_fail(lambda: changes.publish_change(changes.get(change_id, lock=True)))
    click.echo(f"change {change.id} published to {len(changes.notices_of(change))} tenant(s)")


@subprocessors_cli.command("changes")
@with_appcontext
def subprocessors_changes():
    """List changes with the tenants' answers."""
    for change in changes.list_changes():
        answers = [a.notice.answer or "silent" for a in changes.answers(change)]
        tally = ", ".join(f"{answers.count(k)} {k}" for k in ("acknowledged", "objected", "silent") if k in answers)
        click.echo(f"{change.id}  {change.status:<9}  {change.effective_on}  {change.action:<7}  {change.name}"
                   + (f"  ({tally})" if tally else ""))
