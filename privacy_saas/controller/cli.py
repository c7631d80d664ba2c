"""`privacy-saas controller|contacts|retention ...`: controller-scope commands."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from privacy_saas.cliutil import committed, fail
from privacy_saas.controller import tasks
from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts import importer
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.controller.contacts.models import LAWFUL_BASES, SOURCES
from privacy_saas.controller.retention import service
from privacy_saas.errors import AppError
from privacy_saas.extensions import db


# --- controller ------------------------------------------------------------------------------

@click.group("controller")
def controller_cli():
    """The vendor's own (controller-scope) data."""


@controller_cli.command("init")
@with_appcontext
def controller_init():
    """Create the controller scope's keys and the suppression key check (idempotent)."""
    with committed():
        ensure_ready()
    click.echo("controller scope ready: data and index keys present, suppression key check verified")


# --- contacts --------------------------------------------------------------------------------

@click.group("contacts")
def contacts_cli():
    """The vendor's sales and marketing contacts."""


@contacts_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", required=True, type=click.Choice(SOURCES), help="Where the contacts came from.")
@click.option("--basis", required=True, type=click.Choice(LAWFUL_BASES), help="Lawful basis for holding them.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 10_000))
@with_appcontext
def contacts_import(file: Path, source: str, basis: str, batch_size: int):
    """Import contacts from a UTF-8 CSV with header email,name,phone,company,job_title."""
    if not file.exists():
        fail(f"{file}: no such file")
    limit = importer.max_bytes()
    size = file.stat().st_size
    if size > limit:
        fail(f"{file}: {size / (1024 * 1024):.1f} MiB is over the {limit // (1024 * 1024)} MiB limit; "
             "split the file")
    bar = None

    def on_parsed(report, rows):
        nonlocal bar
        bar = tqdm(total=len(rows), unit="row", desc=f"importing {file.name}")

    def on_batch(report, done):
        # Each batch is its own transaction: an interrupted import is re-run safely.
        db.session.commit()
        bar.n = done
        bar.refresh()

    try:
        with committed(f"{file}: ", "; nothing (more) was imported"):
            report = importer.import_file(file.read_bytes(), source=source, basis=basis, limit=limit,
                                          batch_size=batch_size, on_parsed=on_parsed, on_batch=on_batch)
    finally:
        if bar is not None:
            bar.close()
    _print_report(report)


def _print_report(report) -> None:
    click.echo(f"rows read:   {report.rows}")
    click.echo(f"created:     {report.created}")
    click.echo(f"updated:     {report.updated}")
    click.echo(f"unchanged:   {report.unchanged}")
    click.echo(f"suppressed:  {report.suppressed}  (on the suppression list; refused)")
    if report.suppressed_lines:
        click.echo(f"  lines: {_lines(report.suppressed_lines)}")
    click.echo(f"rejected:    {report.rejected_count}")
    for rejection in report.rejected:
        click.echo(f"  line {rejection.line}: {rejection.reason}")
    if report.rejected_count > len(report.rejected):
        click.echo(f"  ... and {report.rejected_count - len(report.rejected)} more")


@contacts_cli.command("unsubscribe-link")
@click.argument("email")
@with_appcontext
def contacts_unsubscribe_link(email: str):
    """Print the unsubscribe link of the contact with EMAIL (for a mail's footer and List-Unsubscribe)."""
    contact = contacts.find_by_email(email.strip())
    db.session.rollback()
    if contact is None:
        fail("no contact has this address")
    click.echo(contacts.unsubscribe_url(contact))


@contacts_cli.command("suppressed")
@click.argument("email")
@with_appcontext
def contacts_suppressed(email: str):
    """Say whether EMAIL is on the suppression list (exit 0 when it is, 1 when not); audited."""
    try:
        entry = contacts.look_up_suppression(email)
    except AppError as exc:
        db.session.rollback()
        fail(_problem(exc))
    db.session.commit()  # the look-up is audited
    if entry is None:
        fail("not on the suppression list")
    click.echo(f"on the suppression list since {entry.created_at:%Y-%m-%d} ({entry.reason})")


@contacts_cli.command("suppress")
@click.argument("email")
@click.option("--reason", required=True, type=click.Choice(contacts.MANUAL_REASONS),
              help="An unsubscribe or objection received by mail or phone.")
@with_appcontext
def contacts_suppress(email: str, reason: str):
    """Put EMAIL on the suppression list (only its keyed hash is kept); refused while a contact holds it."""
    try:
        entry = contacts.suppress_address(email, reason)
    except AppError as exc:
        db.session.rollback()
        fail(_problem(exc))
    db.session.commit()
    click.echo(f"suppressed ({entry.reason}, since {entry.created_at:%Y-%m-%d}): imports and new contacts "
               "with this address are refused")


def _problem(exc: AppError) -> str:
    details = "; ".join(f"{field}: {' '.join(map(str, messages))}" for field, messages in (exc.errors or {}).items())
    return f"{exc.message}{' (' + details + ')' if details else ''}"


def _lines(lines: list[int], limit: int = 50) -> str:
    text = ", ".join(str(n) for n in lines[:limit])
    return text + (f", ... ({len(lines) - limit} more)" if len(lines) > limit else "")


# --- retention -------------------------------------------------------------------------------

@click.group("retention")
def retention_cli():
    """Retention rules of the controller scope."""


@retention_cli.command("sweep")
@click.option("--dry-run", is_flag=True, help="Only show what each rule would delete, and why.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def retention_sweep(dry_run: bool, batch_size: int):
    """Delete what the retention rules say is due (resumes a sweep that died)."""
    try:
        if dry_run:
            preview = service.preview()
            db.session.rollback()
            click.echo(f"dry run as of {preview.as_of:%Y-%m-%d %H:%M} UTC: nothing is deleted")
            for plan in preview.rules:
                click.echo(f"{plan.name:<22} would delete {plan.count:>8}  because: {plan.why}")
            _print_review(preview.review_due, preview.held_restricted)
            return
        sweep = tasks.run_sweep(batch_size=batch_size)
    except AppError as exc:
        db.session.rollback()
        fail(exc.message)
    resumed = f" (resumed {sweep.resumed}x)" if sweep.resumed else ""
    click.echo(f"sweep {sweep.id} as of {sweep.as_of:%Y-%m-%d %H:%M} UTC{resumed}")
    for name, entry in sweep.report["rules"].items():
        click.echo(f"{name:<22} deleted {entry['deleted']:>8}  because: {entry['why']}")
    _print_review(sweep.report["review_due"], sweep.report["held_restricted"])


def _print_review(review_due: int, held: int) -> None:
    click.echo(f"{'review due':<22} {review_due:>16}  contacts not reviewed this quarter (nothing deleted)")
    if held:
        click.echo(f"{'held':<22} {held:>16}  past their period but restricted (Art. 18): kept")
