"""`privacy-saas purge run`, `certificates verify|show` (`purge due` is the scheduler's: jobs/cli.py)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from tqdm import tqdm

from privacy_saas.cliutil import fail
from privacy_saas.crypto.signing import verify_document
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.lifecycle import purge
from privacy_saas.lifecycle.certificates import TYPES, describe, public_pem
from privacy_saas.lifecycle.service import purge_decision
from privacy_saas.processor.tenants import service as tenants


@click.group("purge")
def purge_cli():
    """Contract-end purges."""


@purge_cli.command("run")
@click.argument("slug")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000),
              help="rows per batch, each its own transaction [default: the purge's own, 200,000]")
@with_appcontext
def purge_run(slug, batch_size):
    """Purge one tenant now, in the foreground (only if due and not on hold)."""
    try:
        tenant = tenants.get_by_slug(slug)
    except AppError as exc:
        fail(exc.message)
    decision = purge_decision(tenant)
    if not decision.allowed:
        fail(f"{slug} not purged: {decision.reason}")
    tenant_id = tenant.id
    db.session.rollback()
    # The total is counted once the keys are destroyed, before the first delete: from then on the bar has
    # its total and an ETA.
    with tqdm(unit="row", unit_scale=True, desc=f"purging {slug}") as bar:
        def progress(done, total=None):
            if total is not None and bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        try:
            outcome = purge.purge_tenant(tenant_id, batch=batch_size or purge.DEFAULT_BATCH, progress=progress)
        except purge.PurgeBusy as exc:
            fail(str(exc))
    if outcome != "purged":
        fail(f"{slug} not purged: {outcome}")
    cert = db.session.scalar(db.select(purge.DeletionCertificate).where(purge.DeletionCertificate.tenant_id == tenant_id))
    body = cert.document["certificate"]
    click.echo(f"{slug} purged: {body['rows_deleted_total']} rows deleted, keys destroyed: "
               f"{', '.join(body['keys_destroyed'] + body['key_store']['key_names'])}; certificate {cert.id}")


@click.group("certificates")
def certificates_cli():
    """Deletion certificates."""


@certificates_cli.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM public key (default: this installation's signing key).")
@with_appcontext
def certificates_verify(file, public_key):
    """Check a certificate's signature offline; exit 0 if valid, 1 if not."""
    try:
        signed = json.loads(Path(file).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.echo(f"invalid: {file} is not JSON ({exc})", err=True)
        sys.exit(1)
    if public_key:
        pem = Path(public_key).read_bytes()
    else:
        pem = public_pem()
    if verify_document(pem, signed):
        body = signed["certificate"]
        click.echo(f"valid: tenant {body['tenant']['slug']} purged {body['purge_finished_at']}, "
                   f"{body['rows_deleted_total']} rows, signed by key {signed['key_id']} ({body.get('type')})")
        return
    click.echo("INVALID: the signature does not match this certificate and key", err=True)
    sys.exit(1)


@certificates_cli.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM public key (default: this installation's signing key).")
@with_appcontext
def certificates_show(file, public_key):
    """State a certificate's facts in sentences, after checking its signature offline (exit 1 if invalid)."""
    try:
        signed = json.loads(Path(file).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.echo(f"invalid: {file} is not JSON ({exc})", err=True)
        sys.exit(1)
    pem = Path(public_key).read_bytes() if public_key else public_pem()
    if not verify_document(pem, signed):
        click.echo("INVALID: the signature does not match this certificate and key; nothing in it can be trusted",
                   err=True)
        sys.exit(1)
    if signed["certificate"].get("type") not in TYPES:
        click.echo(f"valid signature, but an unknown certificate type {signed['certificate'].get('type')!r}", err=True)
        sys.exit(1)
    click.echo(f"Deletion certificate, signature valid (Ed25519 key {signed['key_id']}).")
    for line in describe(signed):
        click.echo(f"- {line}")
