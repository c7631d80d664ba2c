"""A backup taken before a purge, restored after it, opens with the same key store: nothing of the purged
tenant decrypts, the others read normally. Run with each key store: OpenBao on the PostgreSQL run
(a pg_dump restored with pg_restore), the local key-store file on the SQLite run (a copy of the file).
"""
import os
import sqlite3
import subprocess
import uuid
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

from privacy_saas import clock, create_app
from privacy_saas.auth import tokens
from privacy_saas.controller.bootstrap import ensure_ready
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.crypto import KeyDestroyed
from privacy_saas.crypto.fields import REGISTRY
from privacy_saas.crypto.keyring import keyring
from privacy_saas.extensions import db
from privacy_saas.lifecycle import purge
from tests import conftest
from tests.helpers import bearer
from tests.lifecycle.conftest import seed


@contextmanager
def restored_copy(app, tmp_path):
    """Copy the database now; yield a function that restores the copy into a fresh database (its URL)."""
    url = db.engine.url
    if conftest.ON_POSTGRES:
        dump = tmp_path / "before-purge.dump"
        pg_bin = os.environ["PG_BIN"]
        server = ["-h", url.host, "-p", str(url.port), "-U", url.username]
        subprocess.run([f"{pg_bin}/pg_dump", *server, "-Fc", "-f", str(dump), url.database], check=True,
                       timeout=120, capture_output=True)
        name = f"restored_{uuid.uuid4().hex[:12]}"

        def restore():
            subprocess.run([f"{pg_bin}/createdb", *server, name], check=True, timeout=60, capture_output=True)
            subprocess.run([f"{pg_bin}/pg_restore", *server, "-d", name, "--exit-on-error", str(dump)],
                           check=True, timeout=120, capture_output=True)
            return url.set(database=name).render_as_string(hide_password=False)

        try:
            yield restore
        finally:
            admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()
    else:
        copy = tmp_path / "before-purge.sqlite3"
        # SQLite's online backup: a consistent copy of the live file (its WAL included).
        source, target = sqlite3.connect(url.database), sqlite3.connect(copy)
        source.backup(target)
        source.close()
        target.close()
        yield lambda: f"sqlite:///{copy}"


def encrypted_values(tenant_id):
    """Yield (model, attribute, row) for every encrypted attribute of the tenant's rows that holds a value."""
    for model, attr in REGISTRY:
        if model.__key_scope_kind__ != "tenant":
            continue
        for row in db.session.scalars(sa.select(model).where(model.tenant_id == tenant_id)):
            if getattr(row, getattr(model, attr).column) is not None:
                yield model, attr, row


def test_a_backup_restored_after_the_purge_does_not_decrypt_the_purged_tenant(app, committed, tmp_path,
                                                                             tmp_path_factory):
    clock.travel_to(date(2026, 7, 1))
    gone = seed("backup-gone", users=4, events_per_user=2, support=1, status="ended", contract_end=date(2025, 6, 30))
    kept = seed("backup-kept", users=3, events_per_user=1)
    ensure_ready()
    contact = contacts.create({"email": "vendor-contact@example.com", "name": "Grace Hopper", "source": "event",
                               "lawful_basis": "legitimate_interest"})
    gone_token = tokens.issue(kind="tenant", name="t", tenant_id=gone.id)[1]
    kept_token = tokens.issue(kind="tenant", name="t", tenant_id=kept.id)[1]
    gone_id, kept_id, contact_id = gone.id, kept.id, contact.id
    committed.commit()
    assert sum(1 for _ in encrypted_values(gone_id)) >= 9  # e-mails, names, support requests
    backend = keyring().backend

    with restored_copy(app, tmp_path) as restore:
        assert purge.purge_tenant(gone_id) == "purged"
        committed.remove()
        config = {**conftest.test_config(tmp_path_factory), "SQLALCHEMY_DATABASE_URI": restore()}
        # The same key store: the copy starts (a destroyed key is not a missing one) and reads what it can.
        restored = create_app(config)
        assert restored.extensions["privacy_saas.keyring"].backend == backend
        try:
            with restored.app_context():
                values = list(encrypted_values(gone_id))
                assert len(values) >= 9
                for model, attr, row in values:
                    with pytest.raises(KeyDestroyed):
                        getattr(row, attr)
                db.session.rollback()
                kept_emails = sorted(u.email for model, attr, u in encrypted_values(kept_id) if attr == "email")
                assert kept_emails == [f"user{n}@backup-kept.example" for n in range(3)]
                assert contacts.get(contact_id).email == "vendor-contact@example.com"
                db.session.remove()
            client = restored.test_client()
            # The API says, record by record, that it cannot be decrypted; nothing answers 500.
            answer = client.get("/api/v1/users", headers=bearer(gone_token))
            assert answer.status_code == 200 and len(answer.json) == 4
            assert {u["error"] for u in answer.json} == {"undecryptable"}
            assert "@" not in answer.get_data(as_text=True)
            one = client.get(f"/api/v1/users/{answer.json[0]['id']}", headers=bearer(gone_token))
            assert one.status_code in (200, 410) and "@" not in one.get_data(as_text=True)
            assert (one.json.get("error") == "undecryptable") or (one.json["code"] == "record_undecryptable")
            kept_answer = client.get("/api/v1/users", headers=bearer(kept_token))
            assert kept_answer.status_code == 200
            assert len(kept_answer.json) == 3 and all(u["email"].endswith("@backup-kept.example")
                                                      for u in kept_answer.json)
        finally:
            with restored.app_context():
                db.engine.dispose()
