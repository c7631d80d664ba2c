"""Signed checkpoints of the audit chains: who signs when (the scheduler's job, the purge, on demand), the API."""
import base64
import hashlib
import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from privacy_saas import audit, clock
from privacy_saas.audit import checkpoints
from privacy_saas.audit.models import AuditEntry, AuditHead
from privacy_saas.auth import tokens
from privacy_saas.jobs.models import Job
from privacy_saas.jobs.scheduler import sweep
from privacy_saas.lifecycle import purge
from privacy_saas.oversight.tasks import checkpoint_chains
from tests.conftest import AUDIT_ENTRIES
from tests.helpers import bearer
from tests.lifecycle.conftest import seed

ENTRIES = AUDIT_ENTRIES


@pytest.fixture
def chain(audit_chain):
    return audit_chain


def verify_checkpoint(runner, path):
    return runner.invoke(args=["audit", "verify", "--checkpoint", path])


# --- who signs, when -----------------------------------------------------------------------------------

def test_the_scheduler_signs_moved_heads_at_most_daily(session, chain, tenant):
    assert checkpoint_chains() >= 1
    assert checkpoints.latest(chain).seq == ENTRIES
    assert checkpoint_chains() == 0  # nothing moved
    audit.record("user.create", tenant_id=tenant.id, actor=("cli", None))
    session.commit()
    assert checkpoint_chains() == 0  # moved, but signed less than a day ago
    clock.travel_to(clock.now() + timedelta(days=1, seconds=1))
    assert checkpoint_chains() == 1 and checkpoints.latest(chain).seq == ENTRIES + 1
    clock.travel_to(clock.now() + timedelta(days=3))
    assert checkpoint_chains() == 0  # a day old, but the head has not moved


def test_the_scheduler_owes_the_signing_only_while_heads_are_due(session, chain):
    def jobs():
        return session.scalars(sa.select(Job).where(Job.name == "privacy_saas.oversight.tasks.checkpoint_chains")).all()

    sweep(dry_run=True)
    assert jobs() == []
    sweep()
    sweep()
    [job] = jobs()  # owed once while unfinished
    assert job.dedupe_key == "audit-checkpoints" and job.tenant_id is None and job.args == []
    assert checkpoint_chains() >= 1  # what the job runs
    job.status, job.finished_at = "done", clock.now()
    session.commit()
    sweep()
    assert len(jobs()) == 1  # nothing due any more: no new job every five minutes
    assert checkpoints.latest(chain).seq == ENTRIES


def test_the_cli_signs_on_demand(session, runner, chain, tmp_path):
    out = tmp_path / "cp.json"
    result = runner.invoke(args=["audit", "checkpoint", "--scope", "acme", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["chain"] == chain and document["seq"] == ENTRIES
    assert verify_checkpoint(runner, str(out)).exit_code == 0
    assert runner.invoke(args=["audit", "checkpoint", "--scope", "nope"]).exit_code == 1
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 1
    assert "signed" in runner.invoke(args=["audit", "checkpoint", "--due"]).output


# --- the API ---------------------------------------------------------------------------------------------

@pytest.fixture
def tenant_chain(session, org, org_token, client):
    """The org's chain (its token's creation is its first entry) and the token's headers."""
    audit.record("user.update", tenant_id=org.id, actor=("cli", None))
    session.commit()
    return audit.scope_of(org.id), bearer(org_token)


def test_a_tenant_fetches_its_own_signed_checkpoints(client, session, tenant_chain, org, other_org, other_token):
    chain, headers = tenant_chain
    assert client.get("/api/v1/audit", headers=headers).status_code == 200  # the token's first use, audited
    # Never signed yet: the first GET signs the head on demand, later GETs return that checkpoint.
    first = client.get("/api/v1/audit/checkpoint", headers=headers)
    assert first.status_code == 200, first.json
    assert set(first.json) == {"type", "chain", "seq", "hash", "signed_at", "key_id", "algorithm", "signature"}
    assert first.json["chain"] == chain
    assert client.get("/api/v1/audit/checkpoint", headers=headers).json == first.json
    assert client.post("/api/v1/audit/checkpoint", headers=headers).json == first.json  # the same head
    audit.record("user.update", tenant_id=org.id, actor=("cli", None))
    session.commit()
    made = client.post("/api/v1/audit/checkpoint", headers=headers)
    assert made.status_code == 201, made.json
    assert made.json["chain"] == chain and made.json["seq"] == first.json["seq"] + 1
    again = client.post("/api/v1/audit/checkpoint", headers=headers)
    assert again.status_code == 200 and again.json == made.json  # the same head: the same checkpoint
    assert client.get("/api/v1/audit/checkpoint", headers=headers).json == made.json
    assert client.get(f"/api/v1/audit/checkpoint?chain={chain}", headers=headers).json == made.json
    assert client.get("/api/v1/audit/checkpoints", headers=headers).json == [made.json, first.json]
    # Another tenant's chain does not exist for this tenant, and this one not for the other.
    other = audit.scope_of(other_org.id)
    assert client.get(f"/api/v1/audit/checkpoint?chain={other}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/audit/checkpoints?chain={chain}", headers=bearer(other_token)).status_code == 404
    assert client.post(f"/api/v1/audit/checkpoint?chain={chain}", headers=bearer(other_token)).status_code == 404
    assert client.get(f"/api/v1/audit/checkpoint?tenant={other_org.slug}", headers=headers).status_code == 404


def test_a_checkpoint_verifies_with_the_public_key_alone(client, tenant_chain):
    """What a tenant does with what it kept: no privacy_saas code, only the published key."""
    _chain, headers = tenant_chain
    kept = client.post("/api/v1/audit/checkpoint", headers=headers).json
    public_key = load_pem_public_key(client.get("/api/v1/signing-key").data)
    signed = {name: kept[name] for name in ("type", "chain", "seq", "hash", "signed_at")}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public_key.verify(base64.b64decode(kept["signature"]), message)  # raises if it does not verify
    assert kept["key_id"] == hashlib.sha256(public_key.public_bytes_raw()).hexdigest()[:16]


def test_staff_name_the_chain(client, session, tenant_chain, make_staff, org):
    chain, headers = tenant_chain
    client.post("/api/v1/audit/checkpoint", headers=headers)
    dpo = bearer(tokens.issue(kind="staff", name="d", staff_id=make_staff("dpo")[0].id)[1])
    support = bearer(tokens.issue(kind="staff", name="s", staff_id=make_staff("support")[0].id)[1])
    assert client.get(f"/api/v1/audit/checkpoint?chain={chain}", headers=dpo).json["chain"] == chain
    response = client.get("/api/v1/audit/checkpoint", headers=dpo)
    assert response.status_code == 400 and "chain" in response.json["errors"]
    assert client.get("/api/v1/audit/checkpoint?chain=nonsense", headers=dpo).status_code == 400
    # or the tenant's chain by its slug, as the audit list filters by it; not both.
    assert client.get(f"/api/v1/audit/checkpoint?tenant={org.slug}", headers=dpo).json["chain"] == chain
    both = client.get(f"/api/v1/audit/checkpoint?tenant={org.slug}&chain={chain}", headers=dpo)
    assert both.status_code == 400 and "chain" in both.json["errors"]
    assert client.get("/api/v1/audit/checkpoint?tenant=nobody", headers=dpo).status_code == 404
    assert client.get(f"/api/v1/audit/checkpoint?chain={chain}", headers=support).status_code == 403
    assert client.get("/api/v1/audit/checkpoint?chain=controller", headers=dpo).status_code == 404
    assert client.get(f"/api/v1/audit/checkpoint?chain={chain}").status_code == 401


def test_every_purge_ends_with_a_signed_checkpoint(session):
    clock.travel_to(date(2026, 7, 1))
    tenant = seed("cp-purged", users=2, status="ended", contract_end=date(2025, 6, 30))
    assert purge.purge_tenant(tenant.id) == "purged"
    chain = audit.scope_of(tenant.id)
    checkpoint = checkpoints.latest(chain)
    head = session.get(AuditHead, chain, populate_existing=True)
    assert (checkpoint.seq, checkpoint.hash) == (head.seq, head.hash)
    # Signed after everything the purge recorded: its certification (and the certificate's mailing).
    certified = session.scalar(sa.select(AuditEntry).where(AuditEntry.scope == chain,
                                                           AuditEntry.action == "purge.certified"))
    assert certified.seq <= checkpoint.seq
    assert checkpoints.verify_extends(checkpoint).broken_at is None
