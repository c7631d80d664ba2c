"""`privacy-saas audit verify [--checkpoint FILE]` and `privacy-saas audit checkpoint`: the hash chains and their
signed checkpoints."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from privacy_saas.audit import checkpoints, service
from privacy_saas.audit.models import AuditCheckpoint
from privacy_saas.cliutil import committed, fail
from privacy_saas.errors import AppError
from privacy_saas.lifecycle import certificates
from privacy_saas.oversight.tasks import checkpoint_chains
from privacy_saas.processor.tenants import service as tenants


@click.group("audit")
def audit_cli():
    """The hash-chained audit log and its signed checkpoints."""


def _chain(name: str) -> str:
    """Return the chain a tenant slug, `controller`, `platform` or `tenant:<id>` names."""
    if name in ("controller", "platform") or name.startswith("tenant:"):
        return name
    try:
        return service.scope_of(tenants.get_by_slug(name).id)
    except AppError as exc:
        fail(exc.message)


def _label(chain: str, slugs: dict) -> str:
    slug = slugs.get(chain)
    return f"{chain} ({slug})" if slug else chain


def _slugs() -> dict:
    return {service.scope_of(tenant.id): tenant.slug for tenant in tenants.list_all()}


@audit_cli.command("verify")
@click.option("--scope", "name", help="A tenant slug, `controller` or `platform` (default: every chain).")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False),
              help="A signed checkpoint (or a JSON list of them): prove its chain still extends it.")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="PEM key the checkpoints were signed with (default: this installation's).")
@with_appcontext
def audit_verify(name, checkpoint_file, public_key):
    """Walk the chains against their heads (or the signed checkpoints of FILE); exit 1 on any break."""
    slugs = _slugs()
    if checkpoint_file:
        _verify_checkpoints(Path(checkpoint_file), Path(public_key).read_bytes() if public_key else None, slugs)
        return
    reports = service.verify(_chain(name) if name else None)
    for report in reports:
        state = f"BROKEN at #{report.broken_at} ({report.reason})" if report.broken_at else "OK"
        click.echo(f"{_label(report.scope, slugs):<60} {report.entries:>8} entries  {state}")
    if any(report.broken_at is not None for report in reports):
        sys.exit(1)
    click.echo(f"OK: {len(reports)} chain(s), {sum(r.entries for r in reports)} entries")


def _check_signature(checkpoint: AuditCheckpoint, public_key: bytes | None) -> None:
    """Raise InvalidCheckpoint unless the signature verifies (by default with this installation's key)."""
    if not certificates.verify(checkpoint.envelope(), public_key):
        raise checkpoints.InvalidCheckpoint("the signature does not verify with this key: not a checkpoint we "
                                            "signed, or altered since")


def _verify_checkpoints(path: Path, public_key: bytes | None, slugs: dict) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        fail(f"{path} is not JSON ({exc})")
    except RecursionError:
        fail(f"{path} is not a checkpoint: nested too deep")
    items = document if isinstance(document, list) else [document]
    if not items:
        fail(f"{path} holds no checkpoint")
    failed = 0
    for n, item in enumerate(items, start=1):
        try:
            checkpoint = checkpoints.parse(item)
            _check_signature(checkpoint, public_key)
        except checkpoints.InvalidCheckpoint as exc:
            click.echo(f"checkpoint {n}: INVALID: {exc}", err=True)
            failed += 1
            continue
        report = checkpoints.verify_extends(checkpoint)
        where = f"{_label(checkpoint.chain, slugs)} checkpoint #{checkpoint.seq} signed {checkpoint.signed_at.isoformat()}"
        if report.broken_at is not None:
            click.echo(f"{where}: BROKEN at #{report.broken_at} ({report.reason})", err=True)
            failed += 1
        else:
            click.echo(f"{where}: OK, the chain extends it ({report.entries} entries)")
    if failed:
        sys.exit(1)


@audit_cli.command("checkpoint")
@click.option("--scope", "name", help="A tenant slug, `controller`, `platform` or `tenant:<id>`.")
@click.option("--due", is_flag=True, help="Sign every chain that is due, as the scheduler does.")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the checkpoint there.")
@with_appcontext
def audit_checkpoint(name, due, out):
    """Sign a chain's head now and print the checkpoint (JSON, as the API returns it)."""
    if due:
        click.echo(f"signed {checkpoint_chains()} chain head(s)")
        return
    if not name:
        fail("name a chain with --scope, or sign every due chain with --due")
    with committed():
        checkpoint, _created = checkpoints.make(_chain(name), certificates.sign)
    text = json.dumps(checkpoint.signed(), indent=2)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
        click.echo(f"checkpoint #{checkpoint.seq} of {checkpoint.chain} written to {out}")
    else:
        click.echo(text)
