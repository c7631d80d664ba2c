"""The audit anchored outside the database: verify against audit_heads and signed checkpoints, tamper tests.

Each tamper is what someone with write access to the database (not to the signing key) can do.
"""
import hashlib
import json

import pytest
import sqlalchemy as sa

from privacy_saas import audit
from privacy_saas.audit import checkpoints
from privacy_saas.audit.models import CHECKPOINT_TYPE, AuditCheckpoint, AuditEntry, AuditHead
from privacy_saas.audit.service import GENESIS, canonical, verify
from privacy_saas.lifecycle import certificates
from tests.conftest import AUDIT_ENTRIES

ENTRIES = AUDIT_ENTRIES


@pytest.fixture
def chain(audit_chain):
    return audit_chain


def entries(session, chain) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(sa.select(AuditEntry).where(AuditEntry.scope == chain).order_by(AuditEntry.seq)))


def recompute(session, chain, *, move_head: bool) -> None:
    """Re-hash the whole chain from its first entry, as a forger with database access would."""
    prev = GENESIS
    for entry in entries(session, chain):
        entry.prev_hash, entry.hash = prev, hashlib.sha256(prev + canonical(entry)).digest()
        prev = entry.hash
        last = entry
    if move_head:
        head = session.get(AuditHead, chain)
        head.seq, head.hash = last.seq, last.hash
    session.commit()


def forget_checkpoints(session, chain) -> None:
    """Delete the chain's checkpoints kept in the database, as a careful forger would."""
    session.execute(sa.delete(AuditCheckpoint).where(AuditCheckpoint.chain == chain))
    session.commit()


def report_of(chain):
    [report] = [r for r in verify() if r.scope == chain]
    return report


def checkpoint_file(tmp_path, checkpoint: AuditCheckpoint, name="checkpoint.json"):
    path = tmp_path / name
    path.write_text(json.dumps(checkpoint.signed()))
    return str(path)


def verify_checkpoint(runner, path):
    return runner.invoke(args=["audit", "verify", "--checkpoint", path])


# --- verify: every head against its chain -----------------------------------------------------------

def test_an_intact_chain_verifies_and_the_cli_names_tenants(session, runner, chain, tenant):
    assert report_of(chain).broken_at is None and report_of(chain).entries == ENTRIES
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and f"{chain} (acme)" in result.output


def test_tamper_edit_one_entry(session, runner, chain):
    third = entries(session, chain)[2]
    third.detail = {"n": 99}
    session.commit()
    assert (report_of(chain).broken_at, report_of(chain).reason) == (3, "hash mismatch")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and chain in result.output and "BROKEN at #3" in result.output


def test_tamper_delete_one_entry(session, chain):
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == chain, AuditEntry.seq == 4))
    session.commit()
    assert (report_of(chain).broken_at, report_of(chain).reason) == (4, "entry missing")


def test_tamper_delete_a_whole_chain_its_head_stays(session, runner, chain):
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == chain))
    session.commit()
    report = report_of(chain)  # found through audit_heads: the entries no longer name it
    assert report.broken_at == 1 and report.reason == f"every entry is gone (its head is at #{ENTRIES})"
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and chain in result.output


def test_tamper_delete_the_single_entry_of_a_chain(session, tenant):
    audit.record("tenant.create", tenant_id=tenant.id, actor=("cli", None))
    session.commit()
    chain = audit.scope_of(tenant.id)
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == chain))
    session.commit()
    assert report_of(chain).broken_at == 1


def test_tamper_truncate_the_tail(session, chain):
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == chain, AuditEntry.seq > 4))
    session.commit()
    report = report_of(chain)
    assert report.broken_at == 5 and report.reason == f"entries #5 to #{ENTRIES} are missing (its head is at #{ENTRIES})"


def test_tamper_delete_the_head(session, chain):
    session.execute(sa.delete(AuditHead).where(AuditHead.scope == chain))
    session.commit()
    assert report_of(chain).reason == "the chain has no head (its audit_heads row was deleted)"


def test_tamper_move_the_head_back(session, chain):
    fourth = entries(session, chain)[3]
    head = session.get(AuditHead, chain)
    head.seq, head.hash = fourth.seq, fourth.hash
    session.commit()
    assert report_of(chain).broken_at == 5 and "head was moved back" in report_of(chain).reason


def test_tamper_rewrite_and_recompute_without_moving_the_head(session, chain):
    entries(session, chain)[1].detail = {"n": "forged"}
    session.commit()
    recompute(session, chain, move_head=False)
    report = report_of(chain)
    assert report.broken_at == ENTRIES and report.reason == "its head's hash is not that of its last entry"


# --- what only a checkpoint held outside shows ---------------------------------------------------------

def test_tamper_rewrite_and_recompute_with_the_head_fails_only_against_a_checkpoint(session, runner, chain,
                                                                                     tmp_path):
    checkpoint, created = checkpoints.make(chain, certificates.sign)
    session.commit()
    assert created and checkpoint.seq == ENTRIES
    path = checkpoint_file(tmp_path, checkpoint)
    assert verify_checkpoint(runner, path).exit_code == 0
    entries(session, chain)[1].detail = {"n": "forged"}
    session.commit()
    recompute(session, chain, move_head=True)
    # The checkpoint kept in the database still tells, until the forger deletes it too.
    report = report_of(chain)
    assert report.broken_at == ENTRIES and report.reason.startswith("differs from the signed checkpoint")
    forget_checkpoints(session, chain)
    assert report_of(chain).broken_at is None  # the database alone cannot tell now
    result = verify_checkpoint(runner, path)
    assert result.exit_code == 1 and chain in result.output
    assert f"BROKEN at #{ENTRIES} (differs from the signed checkpoint" in result.output


def test_tamper_truncate_the_tail_and_move_the_head_fails_against_a_checkpoint(session, runner, chain, tmp_path):
    path = checkpoint_file(tmp_path, checkpoints.make(chain, certificates.sign)[0])
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == chain, AuditEntry.seq > 3))
    recompute(session, chain, move_head=True)
    report = report_of(chain)
    assert report.broken_at == 4 and f"before the signed checkpoint's #{ENTRIES}" in report.reason
    forget_checkpoints(session, chain)
    assert report_of(chain).broken_at is None
    result = verify_checkpoint(runner, path)
    assert result.exit_code == 1 and f"the chain ends at #3, before the signed checkpoint's #{ENTRIES}" in result.output


def test_tamper_delete_a_whole_chain_and_its_head_fails_against_a_checkpoint(session, runner, chain, tmp_path):
    path = checkpoint_file(tmp_path, checkpoints.make(chain, certificates.sign)[0])
    session.execute(sa.delete(AuditEntry).where(AuditEntry.scope == chain))
    session.execute(sa.delete(AuditHead).where(AuditHead.scope == chain))
    session.commit()
    assert report_of(chain).broken_at == 1  # its checkpoint in the database says it existed
    forget_checkpoints(session, chain)
    assert chain not in [r.scope for r in verify()]  # gone without a trace inside the database
    result = verify_checkpoint(runner, path)
    assert result.exit_code == 1 and "the chain ends at #0" in result.output


def test_a_chain_that_grew_still_extends_its_checkpoint(session, runner, chain, tenant, tmp_path):
    path = checkpoint_file(tmp_path, checkpoints.make(chain, certificates.sign)[0])
    audit.record("user.create", tenant_id=tenant.id, actor=("cli", None))
    session.commit()
    result = verify_checkpoint(runner, path)
    assert result.exit_code == 0 and f"OK, the chain extends it ({ENTRIES + 1} entries)" in result.output


@pytest.mark.parametrize("change", [
    lambda d: d.update(seq=d["seq"] - 1), lambda d: d.update(hash="00" * 32),
    lambda d: d.update(chain="platform"), lambda d: d.update(signed_at="2020-01-01T00:00:00+00:00"),
])
def test_a_forged_checkpoint_is_invalid(session, runner, chain, tmp_path, change):
    document = checkpoints.make(chain, certificates.sign)[0].signed()
    change(document)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps([document]))
    result = verify_checkpoint(runner, str(path))
    assert result.exit_code == 1 and "INVALID: the signature does not verify" in result.output


@pytest.mark.parametrize("content", ["not json", "[]", '{"seq": 1}', '[{"type": "x"}]', "42", "[" * 100_000,
                                     json.dumps({"type": CHECKPOINT_TYPE, "chain": "platform", "seq": True,
                                                 "hash": "zz", "signed_at": "x", "key_id": "k",
                                                 "algorithm": "Ed25519", "signature": "!"})])
def test_a_malformed_checkpoint_file_is_a_message_not_a_traceback(runner, session, tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = verify_checkpoint(runner, str(path))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "error:" in result.output or "INVALID:" in result.output


def test_checkpoints_of_another_installation_need_its_key(session, runner, chain, tmp_path):
    from privacy_saas.crypto.signing import generate_signing_key, load_private_key, public_key_pem

    path = checkpoint_file(tmp_path, checkpoints.make(chain, certificates.sign)[0])
    other = tmp_path / "other.pem"
    other.write_bytes(public_key_pem(load_private_key(generate_signing_key())))
    result = runner.invoke(args=["audit", "verify", "--checkpoint", path, "--public-key", str(other)])
    assert result.exit_code == 1 and "INVALID" in result.output
