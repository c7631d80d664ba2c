"""`privacy-saas keys ...`: master and KEK rotation, tenant key rotation, key-store migration, status."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from tqdm import tqdm

from privacy_saas import audit
from privacy_saas.cliutil import fail
from privacy_saas.crypto import CryptoError, KeyStoreUnavailable, tasks
from privacy_saas.crypto.keyring import CONTROLLER_SCOPE, keyring, tenant_scope
from privacy_saas.crypto.models import DataKey, KeyCustody
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.jobs.queue import enqueue
from privacy_saas.processor.tenants import service as tenants


@click.group("keys")
def keys_cli():
    """Master keys and per-tenant data keys."""


@keys_cli.command("rotate-master")
@with_appcontext
def rotate_master():
    """Re-wrap every live data key under the newest master key (no data rewrite)."""
    # What the master key still wraps: data keys of scopes on the old layout, and local KEKs.
    moved = keyring().rewrap_all()
    audit.record("keys.rotate_master", actor=("cli", None),
                 detail={"rewrapped": moved, "master_version": keyring().provider.newest_version})
    db.session.commit()
    click.echo(f"re-wrapped {moved} key(s) under master key version {keyring().provider.newest_version}")


@keys_cli.command("rotate")
@click.argument("slug")
@click.option("--background", is_flag=True, help="Queue the job instead of running it here.")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def rotate_tenant(slug, background, batch_size):
    """Rotate a tenant's data key: new version, re-encrypt its rows, destroy the old one."""
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
    """Per scope: key store, key name, KEK versions, destroyed or live; data key versions (no key material)."""
    ring = keyring()
    custody = {c.scope: c for c in db.session.scalars(sa.select(KeyCustody))}
    rows = db.session.execute(
        sa.select(DataKey.scope, DataKey.purpose, DataKey.version, DataKey.master_version, DataKey.destroyed_at)
        .order_by(DataKey.scope, DataKey.purpose, DataKey.version)).all()
    by_scope: dict[str, list] = {}
    for row in rows:
        by_scope.setdefault(row.scope, []).append(row)
    click.echo(f"configured key store: {ring.store.describe()}")
    for scope, keys in by_scope.items():
        held = custody.get(scope)
        if held is None:
            masters = sorted({k.master_version for k in keys if k.master_version})
            kek = f"master key {', '.join(f'v{v}' for v in masters)} (old layout: run keys migrate)"
        elif held.destroyed_at is not None:
            kek = f"{held.backend} {held.key_name} destroyed {held.destroyed_at:%Y-%m-%d %H:%M}"
        else:
            try:
                state = ring.store_for(held.backend).state(scope)
            except KeyStoreUnavailable as error:
                state, kek = None, f"{held.backend} {held.key_name} UNKNOWN ({error})"
            else:
                if state is None:
                    kek = f"{held.backend} {held.key_name} MISSING from the store"
                elif state.destroyed:
                    kek = f"{held.backend} {held.key_name} destroyed {state.destroyed_at:%Y-%m-%d %H:%M}"
                else:
                    kek = f"{held.backend} {held.key_name} versions {', '.join(f'v{v}' for v in state.versions)}"
        data = ", ".join(f"{k.purpose} v{k.version}{' destroyed' if k.destroyed_at else ''}" for k in keys)
        click.echo(f"{scope:<48} {kek}; {data}")


@keys_cli.command("migrate")
@click.option("--to", "target", type=click.Choice(["local", "openbao"]), required=True,
              help="The key store to move every scope's keys into (must be PRIVACY_SAAS_KEYSTORE).")
@with_appcontext
def migrate_keys(target):
    """Move every scope's data keys under a KEK in the configured key store: online, resumable, audited.

    One scope per transaction: a run stopped anywhere resumes with the scopes not moved yet; a second
    run moves nothing. Keys left behind (a local KEK, the master key) stay where they were: database
    backups taken before the move need them; each scope's purge destroys them with the new one.
    """
    ring = keyring()
    if ring.backend != target:
        fail(f"PRIVACY_SAAS_KEYSTORE is {ring.backend}: set it to {target} on every process first, so that new "
             f"tenants get their keys there too, then run this again")
    pending = tasks.scopes_to_move(target)
    moved = 0
    with tqdm(total=len(pending), unit="scope", desc=f"moving keys to {target}") as bar:
        for scope in pending:
            try:
                previous = ring.move_scope(scope, target)
            except (CryptoError, KeyStoreUnavailable) as error:
                # The scopes moved so far stay moved; the next run resumes with this one.
                db.session.rollback()
                fail(f"{scope} not moved, {moved} moved before it: {error}")
            if previous is not None:
                audit.record("keys.migrated", scope=scope, tenant_id=tasks.tenant_of(scope), actor=("cli", None),
                             detail={"from": previous, "to": target, "key_name": ring.store.key_name(scope)})
                moved += 1
            db.session.commit()
            tasks.fault("after_scope_moved")
            bar.update(1)
    click.echo(f"moved {moved} scope(s) to {ring.store.describe()}; {len(tasks.scopes_to_move(target))} left")


@keys_cli.command("rotate-kek")
@click.argument("slug", required=False)
@click.option("--controller", is_flag=True, help="Rotate the controller scope's KEK instead of a tenant's.")
@with_appcontext
def rotate_kek(slug, controller):
    """Add a KEK version in the key store and re-wrap the scope's data keys under it (OpenBao: rewrap in the store)."""
    if controller == bool(slug):
        fail("name a tenant SLUG or give --controller")
    tenant_id = None
    if slug:
        try:
            tenant = tenants.get_by_slug(slug)
        except AppError as exc:
            fail(exc.message)
        tenant_id = tenant.id
    scope = CONTROLLER_SCOPE if controller else tenant_scope(tenant_id)
    try:
        version, rows = keyring().rotate_kek(scope)
    except (CryptoError, KeyStoreUnavailable) as error:
        db.session.rollback()
        fail(str(error))
    audit.record("keys.kek_rotated", scope=scope, tenant_id=tenant_id, actor=("cli", None),
                 detail={"kek_version": version, "rewrapped": rows})
    db.session.commit()
    click.echo(f"{scope}: key-encryption key now at version {version}; {rows} data key(s) re-wrapped")
