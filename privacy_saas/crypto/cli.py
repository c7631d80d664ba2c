"""`privacy-saas keys ...`: master key rotation, tenant key rotation, status."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from tqdm import tqdm

from privacy_saas.extensions import db


@click.group("keys")
def keys_cli():
    """Master keys and per-tenant data keys."""


@keys_cli.command("rotate-master")
@with_appcontext
def rotate_master():
    """Re-wrap every live data key under the newest master key (no data rewrite)."""
    from privacy_saas.crypto.keyring import keyring

    from privacy_saas import audit

    moved = keyring().rewrap_all()
    audit.record("keys.rotate_master", actor=("cli", None),
                 detail={"rewrapped": moved, "master_version": keyring().provider.newest_version})
    db.session.commit()
    click.echo(f"re-wrapped {moved} data key(s) under master key version {keyring().provider.newest_version}")


@keys_cli.command("rotate")
@click.argument("slug")
@click.option("--background", is_flag=True, help="Queue the job instead of running it here.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def rotate_tenant(slug, background, batch_size):
    """Rotate a tenant's data key: new version, re-encrypt its rows, destroy the old one."""
    from privacy_saas.cli import fail
    from privacy_saas.crypto import tasks
    from privacy_saas.crypto.keyring import tenant_scope
    from privacy_saas.errors import AppError
    from privacy_saas.jobs.queue import enqueue
    from privacy_saas.processor.tenants import service as tenants

    try:
        tenant = tenants.get_by_slug(slug)
    except AppError as exc:
        fail(exc.message)
    if tenant.status in ("purging", "purged"):
        fail(f"tenant {slug} is {tenant.status}; its keys are being or have been destroyed")
    scope = tenant_scope(tenant.id)
    if background:
        rotation = tasks.start_rotation(scope)
        # One transaction: the rotation started and its job owed, or neither.
        job = enqueue("privacy_saas.crypto.tasks.rotate_scope_job", scope, tenant_id=tenant.id,
                      dedupe=f"rotate:{scope}")
        db.session.commit()
        click.echo(f"rotation to data key version {rotation.to_version} queued as job {job.id}")
        return
    total = tasks.count_rows(scope)
    with tqdm(total=total, unit="row", desc=f"re-encrypting {slug}") as bar:
        def on_batch(rotation):
            bar.n = min(rotation.rows_done, total)
            bar.refresh()

        rotation = tasks.rotate_scope(scope, batch_size=batch_size, on_batch=on_batch)
    click.echo(f"{slug}: {rotation.rows_done} row(s) now under data key version {rotation.to_version}")


@keys_cli.command("status")
@with_appcontext
def key_status():
    """List key versions per scope (no key material)."""
    from privacy_saas.crypto.models import DataKey

    rows = db.session.execute(
        sa.select(DataKey.scope, DataKey.purpose, DataKey.version, DataKey.master_version, DataKey.destroyed_at)
        .order_by(DataKey.scope, DataKey.purpose, DataKey.version)).all()
    for row in rows:
        state = f"destroyed {row.destroyed_at:%Y-%m-%d}" if row.destroyed_at else f"live (master v{row.master_version})"
        click.echo(f"{row.scope:<48} {row.purpose:<6} v{row.version:<3} {state}")
