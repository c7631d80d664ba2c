"""`privacy-saas worker`, `privacy-saas jobs status|retry`, and `privacy-saas purge due` (the scheduler's sweep)."""
from __future__ import annotations

import uuid

import click
from flask import current_app
from flask.cli import with_appcontext

from privacy_saas import clock
from privacy_saas.cliutil import fail
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.jobs import service
from privacy_saas.jobs.scheduler import sweep
from privacy_saas.jobs.worker import run_worker


@click.command("worker")
@click.option("--burst", is_flag=True, help="Dispatch and run what is due, then exit.")
@click.option("--sweep-interval", default=300.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds between lifecycle sweeps of the fleet (0: this worker never sweeps).")
@with_appcontext
def worker_cmd(burst, sweep_interval):
    """Run a background worker (RQ on REDIS_URL) with the scheduler: heartbeat, dispatch, sweep."""
    try:
        run_worker(current_app._get_current_object(), burst=burst, sweep_interval=sweep_interval or None)
    except RuntimeError as exc:
        fail(str(exc))


@click.group("jobs")
def jobs_cli():
    """Background work: what is owed, failing or dead, and the workers."""


def _ago(moment) -> str:
    return "never" if moment is None else f"{(clock.now() - moment).total_seconds():.0f} s ago"


@jobs_cli.command("status")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@with_appcontext
def jobs_status(limit):
    """Show workers, owed and failing jobs, and dead jobs (ids and error classes only)."""
    for worker in service.workers():
        state = "alive" if service.is_alive(worker) else ("stopped" if worker.stopped_at else "SILENT")
        click.echo(f"worker {worker.name:<40} {worker.kind:<10} {state:<7} beat {_ago(worker.beat_at)}, "
                   f"sweep {_ago(worker.sweep_finished_at)}, dispatched {worker.jobs_dispatched}"
                   + (f", last error {worker.last_error} ({_ago(worker.last_error_at)})" if worker.last_error else ""))
    counts = service.overview()
    click.echo(f"jobs: {counts.owed} owed, {counts.running} running, {counts.failing} failing, {counts.dead} dead")
    for job in service.unfinished(limit) + service.dead(limit):
        retry = f", next try {job.not_before.isoformat()}" if job.status == "pending" else ""
        click.echo(f"{job.id} {job.status:<10} {job.name} attempt {job.attempts}"
                   f"{'/' + str(job.max_attempts) if job.max_attempts else ''}{retry}"
                   + (f" last error: {job.last_error}" if job.last_error else ""))
    db.session.rollback()


@jobs_cli.command("retry")
@click.argument("job_id", type=click.UUID)
@with_appcontext
def jobs_retry(job_id: uuid.UUID):
    """Retry a dead job now, with one more attempt."""
    try:
        job = service.retry(job_id)
    except AppError as exc:
        db.session.rollback()
        fail(exc.message)
    db.session.commit()
    click.echo(f"job {job.id} ({job.name}) owed again")


# Operators know it as `purge due`: the factory adds it to lifecycle's `purge` group. The sweep it runs is
# the scheduler's, which names every domain's periodic work, so the command lives here, above the domains.
@click.command("due")
@click.option("--dry-run", is_flag=True, help="Show what would happen, change nothing.")
@with_appcontext
def purge_due(dry_run):
    """End contracts that are over and queue every purge that is due."""
    report = sweep(dry_run=dry_run)
    if dry_run:
        db.session.rollback()
    verb = "would" if dry_run else "did"
    for slug in report["ended"]:
        click.echo(f"{verb} end contract  {slug}")
    for slug in report["purge"]:
        click.echo(f"{verb} queue purge   {slug}")
    for slug in report["purge_owed"]:
        click.echo(f"purge owed        {slug} (queued earlier, not finished)")
    for slug in report["stuck"]:
        click.echo(f"STUCK purge       {slug} (no worker holds its lease; see `privacy-saas jobs status`)")
    for line in report["held_or_waiting"]:
        click.echo(f"not purged        {line}")
    if not any(report[k] for k in ("ended", "purge", "purge_owed", "held_or_waiting")):
        click.echo("nothing due")
