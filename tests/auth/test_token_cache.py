"""Tenant tokens from each process's cache: no database round trip, yet revoked everywhere at once.

These tests commit for real (the `committed` fixture): a write seen only inside the test's own
transaction is not what another process or request sees.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.auth import token_cache, tokens
from privacy_saas.auth.models import ApiToken
from privacy_saas.auth.principal import TOKEN_TOUCH_INTERVAL, current_tenant
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.gates import ensure_writable
from privacy_saas.processor.tenants.models import Tenant
from privacy_saas.processor.users.tokens import create_token, revoke_token
from tests.conftest import ON_POSTGRES
from tests.helpers import RequestContextClient, bearer, new_tenant

URL = "/api/v1/users"

#: Another process on the same database: its app revokes a token with a Core UPDATE and exits.
REVOKE_ELSEWHERE = """
import json, sys, uuid
import sqlalchemy as sa
from privacy_saas import clock, create_app
from privacy_saas.auth.models import ApiToken
from privacy_saas.extensions import db
config, token_id = json.loads(sys.argv[1]), uuid.UUID(sys.argv[2])
app = create_app(config)
with app.app_context(), db.engine.begin() as conn:
    conn.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=clock.now()))
"""


def wait_until(condition, seconds: float = 15.0) -> bool:
    """Poll `condition` (bounded) until true; return whether it became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def cache(app, committed):
    """The app's token cache, trusted (on PostgreSQL: its listener connected), empty at the start."""
    found = token_cache.for_app()
    assert found is not None, "the test app runs with the cache on (TOKEN_CACHE_SECONDS default)"
    assert wait_until(lambda: found.generation() is not None), "the listener did not connect"
    found.clear()
    return found


@pytest.fixture
def tenant_token(cache, committed):
    """(tenant id, token id, plaintext) of a keyed tenant, committed."""
    tenant = new_tenant()
    token, plaintext = create_token(tenant, "idp", actor=("test", None))
    ids = tenant.id, token.id
    committed.commit()
    committed.remove()  # nothing of this session stays open (SQLite's write lock is taken at BEGIN)
    return *ids, plaintext


@pytest.fixture
def http(app, committed):
    return RequestContextClient(app, app.response_class)


@contextmanager
def reads(table: str):
    """Collect the statements of the app's engine that read `table` meanwhile."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if f"FROM {table}" in statement:
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def get_users(http, plaintext):
    return http.get(URL, headers=bearer(plaintext))


def served_from_cache(http, plaintext) -> bool:
    """Make one request that must succeed; return whether it read neither the token nor its tenant."""
    with reads("api_tokens") as token_reads, reads("tenants") as tenant_reads:
        response = get_users(http, plaintext)
    assert response.status_code == 200, response.json
    return not token_reads and not tenant_reads


def revoke_in_another_session(app, tenant_id, token_id):
    with app.app_context():
        revoke_token(db.session.get(Tenant, tenant_id), token_id, actor=("test", None))
        db.session.commit()
        db.session.remove()


# --- the cache answers ---------------------------------------------------------------------------

def warm(http, plaintext) -> None:
    """Use the token until the cache holds it: its first use is also its touch (a write to api_tokens)."""
    assert not served_from_cache(http, plaintext)
    assert not served_from_cache(http, plaintext)  # read afresh after the touch committed, and kept
    assert served_from_cache(http, plaintext)


def test_a_cached_token_keeps_working_without_reading_the_token_or_tenant(http, tenant_token):
    _tenant_id, _token_id, plaintext = tenant_token
    warm(http, plaintext)
    responses = [get_users(http, plaintext) for _ in range(3)]
    assert [(r.status_code, r.json) for r in responses] == [(200, responses[0].json)] * 3
    assert served_from_cache(http, plaintext)


def test_the_secret_is_still_checked_on_a_cached_token(http, tenant_token):
    _tenant_id, token_id, plaintext = tenant_token
    warm(http, plaintext)
    forged = f"{tokens.PREFIX}_{token_id.hex}_{'x' * 43}"
    response = get_users(http, forged)
    assert response.status_code == 401 and response.json["code"] == "invalid_token"
    assert served_from_cache(http, plaintext)


def test_the_cached_tenant_behaves_as_a_loaded_row(app, http, tenant_token):
    tenant_id, _token_id, plaintext = tenant_token
    warm(http, plaintext)
    with app.app_context(), app.test_request_context(URL, headers=bearer(plaintext)):
        with reads("tenants") as tenant_reads, reads("api_tokens") as token_reads:
            tenant = current_tenant()
            ensure_writable(tenant)
            state = sa.inspect(tenant)
            assert state.persistent and not state.modified and tenant.id == tenant_id
            assert tenant.slug.startswith("t-") and tenant.accepts_writes
            assert db.session.get(Tenant, tenant_id) is tenant  # the session's own row, no query
        assert not tenant_reads and not token_reads
        db.session.commit()  # expires it, as any loaded row
        with reads("tenants") as tenant_reads:
            assert tenant.status == "active"
        assert len(tenant_reads) == 1  # reloaded on access
        db.session.remove()


# --- revocation and status changes take effect at once --------------------------------------------

def test_revoking_through_the_service_is_401_at_the_next_request(app, http, tenant_token):
    tenant_id, token_id, plaintext = tenant_token
    warm(http, plaintext)
    revoke_in_another_session(app, tenant_id, token_id)
    response = get_users(http, plaintext)
    assert response.status_code == 401 and response.json["code"] == "invalid_token"


def test_a_core_update_in_another_connection_is_401_at_the_next_request(app, http, tenant_token):
    _tenant_id, token_id, plaintext = tenant_token
    warm(http, plaintext)
    with db.engine.begin() as conn:
        conn.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=clock.now()))
    assert get_users(http, plaintext).status_code == 401


def test_a_revocation_in_another_process_invalidates_this_one(app, http, cache, tenant_token):
    _tenant_id, token_id, plaintext = tenant_token
    warm(http, plaintext)
    before = cache.generation()
    keys = ("SQLALCHEMY_DATABASE_URI", "PRIVACY_SAAS_MASTER_KEYS", "SECRET_KEY", "KEYSTORE_PATH",
            "PRIVACY_SAAS_SIGNING_KEY_FILE", "OUTBOX_DIR", "EXPORT_DIR", "TESTING")
    config = {key: app.config[key] for key in keys}
    done = subprocess.run([sys.executable, "-c", REVOKE_ELSEWHERE, json.dumps(config), str(token_id)],
                          env=os.environ, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    if ON_POSTGRES:
        # The notification reaches this process's listener moments after the other's commit.
        assert wait_until(lambda: cache.generation() not in (before, None), 10)
    else:
        assert cache.generation() != before  # the signal file, stat'ed by the next request
    response = get_users(http, plaintext)
    assert response.status_code == 401 and response.json["code"] == "invalid_token"


def test_an_ended_then_purging_tenant_is_refused_at_once(app, http, tenant_token):
    tenant_id, _token_id, plaintext = tenant_token
    warm(http, plaintext)
    with app.app_context():
        db.session.get(Tenant, tenant_id).end_contract()
        db.session.commit()
        db.session.remove()
    assert get_users(http, plaintext).status_code == 200  # still readable
    assert served_from_cache(http, plaintext)
    response = http.post(URL, json={"email": "b@example.com"}, headers=bearer(plaintext))
    assert response.status_code == 403 and response.json["code"] == "tenant_ended"
    with db.engine.begin() as conn:
        conn.execute(sa.update(Tenant).where(Tenant.id == tenant_id).values(status="purging"))
    response = get_users(http, plaintext)
    assert response.status_code == 403 and response.json["code"] == "tenant_purged"


# --- the safety nets --------------------------------------------------------------------------------

def test_an_entry_expires_after_token_cache_seconds(app, http, tenant_token):
    _tenant_id, _token_id, plaintext = tenant_token
    warm(http, plaintext)
    clock.advance(timedelta(seconds=app.config["TOKEN_CACHE_SECONDS"] - 1))
    assert served_from_cache(http, plaintext)
    clock.advance(timedelta(seconds=2))
    assert not served_from_cache(http, plaintext)
    assert served_from_cache(http, plaintext)


def test_the_touch_still_happens_every_interval(app, http, committed, tenant_token):
    _tenant_id, token_id, plaintext = tenant_token
    clock.travel_to(clock.now())

    def uses():
        with app.app_context():
            last_used_at = db.session.get(ApiToken, token_id).last_used_at
            count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                      .where(AuditEntry.action == "token.use"))
            db.session.remove()
            return last_used_at, count

    started = clock.now()
    get_users(http, plaintext)
    assert uses() == (started, 1)
    for _ in range(3):
        get_users(http, plaintext)
    assert served_from_cache(http, plaintext)
    clock.advance(TOKEN_TOUCH_INTERVAL)
    get_users(http, plaintext)
    assert uses() == (started, 1)  # not more often than today: strictly after the interval
    clock.advance(timedelta(seconds=1))
    get_users(http, plaintext)
    assert uses() == (started + TOKEN_TOUCH_INTERVAL + timedelta(seconds=1), 2)
    get_users(http, plaintext)
    assert served_from_cache(http, plaintext)
    assert uses()[1] == 2


def test_a_transaction_that_changed_a_token_caches_nothing(app, tenant_token, cache):
    _tenant_id, token_id, plaintext = tenant_token
    with app.app_context(), app.test_request_context(URL, headers=bearer(plaintext)):
        db.session.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(name="renamed"))
        generation = cache.generation()
        token = tokens.resolve(plaintext)
        cache.put(token, generation, clock.now())
        assert cache.get(token_id, cache.generation(), clock.now()) is None
        db.session.rollback()
        db.session.remove()


@pytest.mark.postgres
def test_while_the_listener_is_down_every_request_reads_the_database(http, cache, tenant_token):
    _tenant_id, _token_id, plaintext = tenant_token
    listener = token_cache.generation_for(db.engine.url)
    warm(http, plaintext)
    listener.stop()
    try:
        assert cache.generation() is None
        assert not served_from_cache(http, plaintext)
        assert not served_from_cache(http, plaintext)
    finally:
        listener.start()
    assert wait_until(lambda: cache.generation() is not None)
    assert not served_from_cache(http, plaintext)  # entries from before the outage are not trusted
    assert served_from_cache(http, plaintext)


@pytest.mark.postgres
def test_a_lost_listener_connection_distrusts_every_entry_and_reconnects(http, cache, tenant_token):
    _tenant_id, _token_id, plaintext = tenant_token
    warm(http, plaintext)
    before = cache.generation()
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s "
                              "AND pid <> pg_backend_pid()", (token_cache.LISTENER_NAME,)).fetchall()
    assert killed
    assert wait_until(lambda: cache.generation() not in (before, None))
    assert not served_from_cache(http, plaintext)
    assert served_from_cache(http, plaintext)


# --- what counts as a write --------------------------------------------------------------------------

@pytest.mark.parametrize(("statement", "watched"), [
    ('UPDATE api_tokens SET last_used_at=? WHERE api_tokens.id = ?', True),
    ('UPDATE tenants SET status=%(status)s::VARCHAR WHERE tenants.id = %(id_1)s::UUID', True),
    ('update "staff" set active=false', True),
    ('DELETE FROM tenants WHERE tenants.id = ?', True),
    ('TRUNCATE "audit_log", "api_tokens", "tenants" CASCADE', True),
    ('DROP SCHEMA public CASCADE', True),
    ('UPDATE registered_users SET status=? WHERE registered_users.tenant_id = ?', False),
    ('UPDATE tenants_archive SET x=1', False),
    ('INSERT INTO api_tokens (id, kind) VALUES (?, ?)', False),
    ('SELECT api_tokens.id FROM api_tokens JOIN tenants ON tenants.id = api_tokens.tenant_id', False),
    ('DELETE FROM usage_events WHERE tenant_id IN (SELECT id FROM tenants)', False),
])
def test_writes_to_tokens_tenants_and_staff_are_recognised(statement, watched):
    assert token_cache.writes_watched_table(statement) is watched
