"""Deletion certificates v2: the key store's receipt, files per kind, the backups statement; read as sentences."""
import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from privacy_saas import clock, mail
from privacy_saas.crypto.keyring import keyring
from privacy_saas.lifecycle import certificates, purge
from privacy_saas.lifecycle.models import DeletionCertificate
from tests.lifecycle.conftest import seed

END = date(2025, 6, 30)


def crash_mid_files(at):
    if at == "mid_files":
        raise SystemExit("crash between the exports and the outbox")


@pytest.fixture(params=["straight", "killed_mid_files"])
def purged(request, session, app, monkeypatch):
    """A purged tenant that had a return export, an outbox mail, and a subject-access export on disk.

    Purged in one run, or by a run killed after deleting the exports and a second run that finishes.
    """
    clock.travel_to(date(2026, 7, 1))
    tenant = seed("certified", users=2, events_per_user=1, status="ended", contract_end=END)
    exports = Path(app.config["EXPORT_DIR"]) / str(tenant.id)
    (exports / "dsr").mkdir(parents=True)
    (exports / "01a2.zip.sealed").write_bytes(b"sealed")
    (exports / "dsr" / "01a3.zip.sealed").write_bytes(b"sealed")
    mail.send(mail.Message(to="someone@certified.example", subject="s", body="b", tenant_id=tenant.id))
    mail.send(mail.Message(to="vendor@vendor.example", subject="s", body="b"))  # the vendor's own: stays
    if request.param == "killed_mid_files":
        monkeypatch.setattr(purge, "_fault", crash_mid_files)
        monkeypatch.setitem(app.config, "PURGE_LEASE_SECONDS", 0)
        with pytest.raises(SystemExit):
            purge.purge_tenant(tenant.id)
        session.rollback()
        assert not exports.exists() and mail.outbox_dir(tenant.id).exists()
        monkeypatch.setattr(purge, "_fault", lambda at: None)
    assert purge.purge_tenant(tenant.id) == "purged"
    cert = session.scalar(sa.select(DeletionCertificate).where(DeletionCertificate.tenant_id == tenant.id))
    assert not exports.exists() and not mail.outbox_dir(tenant.id).exists()
    assert len(list(mail.outbox_dir().glob("*.eml"))) >= 1
    return tenant, cert


def test_the_certificate_carries_the_receipt_files_per_kind_and_backups(purged, app):
    tenant, cert = purged
    body = cert.document["certificate"]
    assert body["type"] == "privacy_saas.deletion_certificate/v2" and certificates.verify(cert.document)
    key_store = body["key_store"]
    name = f"privacy-saas-tenant-{tenant.id}"
    assert key_store["backend"] == keyring().backend and key_store["key_names"] == [name]
    assert key_store["versions"] == {name: [1]} and key_store["previous_custody"] is None
    [receipt] = key_store["receipts"]
    assert receipt["destroyed_at"] == key_store["destroyed_at"] == body["keys_destroyed_at"]
    assert keyring().store.state(f"tenant:{tenant.id}").destroyed_at.isoformat() == receipt["destroyed_at"]
    assert body["files_deleted"] == {"return_exports": 1, "outbox_mails": 1, "other": 1}
    assert body["files_deleted_total"] == 3
    backups = body["backups"]
    assert backups["database_backups_unreadable_from"] == receipt["destroyed_at"]
    assert backups["key_store_backup_retention"] == app.config["KEYSTORE_BACKUP_RETENTION"] == "P30D"
    assert backups["key_store_backups_expire_by"] == "2026-07-31T00:00:00+00:00"
    assert backups["statements"][0].startswith("Database backups of any date are unreadable from 2026-07-01 00:00 UTC")
    assert "expire by 2026-07-31 00:00 UTC" in backups["statements"][1]
    assert "@" not in json.dumps(cert.document)


def test_show_states_the_same_facts_in_sentences_and_refuses_a_forgery(purged, runner, tmp_path):
    tenant, cert = purged
    path = tmp_path / "certificate.json"
    path.write_text(json.dumps(cert.document))
    shown = runner.invoke(args=["certificates", "show", str(path)])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "signature valid" in out and f"Tenant certified (id {tenant.id}" in out
    assert f"confirmed the destruction of key-encryption key privacy-saas-tenant-{tenant.id} (v1)" in out
    assert "3 files were deleted: 1 return export(s), 1 outbox mail(s), 1 other file(s)." in out
    assert "Database backups of any date are unreadable from 2026-07-01 00:00 UTC" in out
    assert runner.invoke(args=["certificates", "verify", str(path)]).exit_code == 0
    forged = {**cert.document, "certificate": {**cert.document["certificate"], "files_deleted_total": 0}}
    path.write_text(json.dumps(forged))
    refused = runner.invoke(args=["certificates", "show", str(path)])
    assert refused.exit_code == 1 and "INVALID" in refused.output and "files were deleted" not in refused.output


def test_a_v1_certificate_still_verifies_and_reads(session, runner, tmp_path):
    v1 = certificates.sign({
        "type": "privacy_saas.deletion_certificate/v1",
        "tenant": {"id": "01a2", "slug": "old", "region": "eu"},
        "policy": {"end_action": "delete", "retain_after_end": "P12M"}, "contract_end": "2024-01-31",
        "purge_started_at": "2025-02-01T00:00:00+00:00", "keys_destroyed_at": "2025-02-01T00:00:01+00:00",
        "purge_finished_at": "2025-02-01T00:00:02+00:00", "rows_deleted": {"registered_users": 3},
        "rows_deleted_total": 3, "keys_destroyed": ["tenant:01a2/data/v1"], "files_deleted": 1,
        "aggregates_kept": False, "software": "privacy_saas 0.1.0"})
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(v1))
    assert runner.invoke(args=["certificates", "verify", str(path)]).exit_code == 0
    shown = runner.invoke(args=["certificates", "show", str(path)])
    assert shown.exit_code == 0
    assert "1 files were deleted." in shown.output and "says nothing about backups" in shown.output


DESTROYED = datetime(2026, 7, 1, 12, 0, tzinfo=timezone.utc)


def custody(backend, previous=None, since="2026-01-01T00:00:00+00:00"):
    return {"backend": backend, "key_names": ["privacy-saas-tenant-x"], "custody_since": since,
            "previous_custody": previous, "master_versions": [1]}


def test_the_backups_statement_is_true_for_each_custody():
    bao = certificates.backups_statement(custody("openbao"), DESTROYED, "P1M")
    assert bao["database_backups_unreadable_from"] == DESTROYED.isoformat()
    assert bao["key_store_backups_expire_by"] == "2026-08-01T12:00:00+00:00"
    assert "never left the key store (OpenBao)" in bao["statements"][0]
    assert "OpenBao storage snapshots" in bao["statements"][1]
    local = certificates.backups_statement(custody("local"), DESTROYED, "P30D")
    assert "key-store file" in local["statements"][0] and "master key" in local["statements"][1]
    moved = certificates.backups_statement(custody("openbao", previous="master:v1"), DESTROYED, "P30D")
    # Backups from before the move hold master-wrapped keys: no claim that they are unreadable.
    assert moved["database_backups_unreadable_from"] is None
    assert moved["statements"][0].startswith("Database backups taken since 2026-01-01 00:00 UTC are unreadable")
    assert "(master:v1) directly" in moved["statements"][1]
    old = certificates.backups_statement(custody("master"), DESTROYED, "P30D")
    assert old["database_backups_unreadable_from"] is None and old["key_store_backups_expire_by"] is None
    assert "stay readable with that master key until it is retired" in old["statements"][0]
