"""Key stores, each against the real thing: a key-store file, and the OpenBao server of scripts/services.sh."""
import os
import socket
import time
import uuid
from datetime import timedelta
from pathlib import Path

import hvac.exceptions
import pytest

from privacy_saas import clock
from privacy_saas import create_app
from privacy_saas.crypto import DecryptionError, KeyDestroyed, KeyStoreUnavailable, KeyUnavailable
from privacy_saas.crypto.keystore import LocalKeyStore, OpenBaoKeyStore
from privacy_saas.crypto.providers import LocalKeyProvider, parse_master_keys
from tests import conftest
from tests.conftest import TEST_MASTER_KEYS

OPENBAO_ADDR = os.environ.get("OPENBAO_ADDR")


def openbao_token() -> str:
    return os.environ.get("OPENBAO_TOKEN") or Path(os.environ["OPENBAO_TOKEN_FILE"]).read_text().strip()


def openbao_store(**kwargs) -> OpenBaoKeyStore:
    return OpenBaoKeyStore(OPENBAO_ADDR, openbao_token(), os.environ.get("OPENBAO_TRANSIT_MOUNT", "transit"),
                           os.environ.get("OPENBAO_KV_MOUNT", "privacy-saas"), **kwargs)


@pytest.fixture(params=["local", pytest.param("openbao", marks=pytest.mark.openbao)])
def store(request, tmp_path):
    if request.param == "local":
        return LocalKeyStore(tmp_path / "keystore.sqlite3", LocalKeyProvider(parse_master_keys(TEST_MASTER_KEYS)))
    if not OPENBAO_ADDR:
        pytest.skip("needs OpenBao (OPENBAO_ADDR, from scripts/services.sh)")
    return openbao_store()


def new_scope() -> str:
    return f"tenant:{uuid.uuid4()}"


def test_names_carry_ids_only(store):
    tenant_id = uuid.uuid4()
    assert store.key_name(f"tenant:{tenant_id}") == f"privacy-saas-tenant-{tenant_id}"
    assert store.key_name("controller") == "privacy-saas-controller"
    with pytest.raises(ValueError):
        store.key_name("tenant:ada@example.com")


def test_wrap_unwrap_bound_to_context_and_scope(store):
    scope, other = new_scope(), new_scope()
    store.create(scope)
    store.create(scope)  # idempotent
    store.create(other)
    key = os.urandom(32)
    version, wrapped = store.wrap(scope, key, b"ctx:data:v1")
    assert version == 1 and key not in wrapped
    assert store.unwrap(scope, version, wrapped, b"ctx:data:v1") == key
    assert store.unwrap_many(scope, [(version, wrapped, b"ctx:data:v1")] * 2) == [key, key]
    with pytest.raises(DecryptionError):
        store.unwrap(scope, version, wrapped, b"ctx:index:v1")
    with pytest.raises(DecryptionError):
        store.unwrap(other, version, wrapped, b"ctx:data:v1")


def test_rotate_and_rewrap(store):
    scope = new_scope()
    store.create(scope)
    key = os.urandom(32)
    _, old = store.wrap(scope, key, b"c")
    assert store.rotate(scope) == 2
    version, new = store.wrap(scope, key, b"c")
    assert version == 2
    rewrapped_version, rewrapped = store.rewrap(scope, 1, old, b"c")
    assert rewrapped_version == 2 and rewrapped != old
    assert store.unwrap(scope, 2, rewrapped, b"c") == key
    assert store.unwrap(scope, 1, old, b"c") == key  # older versions still open what they wrapped
    assert store.state(scope).versions == (1, 2)


def test_destroy_returns_a_receipt_and_the_key_never_comes_back(store):
    scope, bystander = new_scope(), new_scope()
    store.create(scope)
    store.create(bystander)
    store.rotate(scope)
    key = os.urandom(32)
    version, wrapped = store.wrap(scope, key, b"c")
    _, kept = store.wrap(bystander, key, b"c")
    clock.travel_to(clock.now().replace(microsecond=0))
    receipt = store.destroy(scope)
    assert receipt.backend == store.backend and receipt.key_name == store.key_name(scope)
    assert receipt.versions == (1, 2) and receipt.destroyed_at == clock.now()
    state = store.state(scope)
    assert state.destroyed and state.destroyed_at == receipt.destroyed_at and state.versions == (1, 2)
    with pytest.raises(KeyDestroyed):
        store.unwrap(scope, version, wrapped, b"c")
    with pytest.raises(KeyDestroyed):
        store.wrap(scope, key, b"c")
    with pytest.raises(KeyDestroyed):
        store.create(scope)
    clock.advance(timedelta(hours=1))
    again = store.destroy(scope)  # idempotent: the first receipt's facts
    assert (again.key_name, again.versions, again.destroyed_at) == (receipt.key_name, (1, 2), receipt.destroyed_at)
    assert store.unwrap(bystander, 1, kept, b"c") == key
    inventory = store.inventory()
    assert store.key_name(bystander) in inventory.live and store.key_name(scope) not in inventory.live
    assert store.key_name(scope) in inventory.destroyed and store.key_name(bystander) not in inventory.destroyed


def test_a_key_never_created_is_unavailable_not_destroyed(store):
    scope = new_scope()
    assert store.state(scope) is None
    with pytest.raises(KeyUnavailable):
        store.wrap(scope, os.urandom(32), b"c")


def test_local_destroy_leaves_no_byte_of_the_key_in_the_files(tmp_path):
    path = tmp_path / "keystore.sqlite3"
    store = LocalKeyStore(path, LocalKeyProvider(parse_master_keys(TEST_MASTER_KEYS)))
    scope, bystander = new_scope(), new_scope()
    for s in (scope, bystander):
        store.create(s)
        store.rotate(s)
    name = store.key_name(scope)
    secrets = [w for (w,) in store._read("SELECT wrapped FROM keks WHERE name = ?", (name,))]
    kept = [w for (w,) in store._read("SELECT wrapped FROM keks WHERE name = ?", (store.key_name(bystander),))]
    # The unwrapped KEKs too: they must never have been written anywhere.
    raw = [store.master.unwrap(*row[:2], f"{name}:kek:v{row[2]}".encode())
           for row in store._read("SELECT master_version, wrapped, version FROM keks WHERE name = ?", (name,))]

    def everything() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())

    assert all(s in everything() for s in secrets + kept)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    store.destroy(scope)
    blob = everything()
    assert [p.name for p in tmp_path.iterdir()] == ["keystore.sqlite3"]  # no journal or WAL left behind
    for secret in secrets + raw:
        assert secret not in blob and secret[:16] not in blob and secret[-16:] not in blob
    assert all(k in blob for k in kept)


def test_local_store_file_is_not_created_by_reading(tmp_path):
    store = LocalKeyStore(tmp_path / "keystore.sqlite3", LocalKeyProvider(parse_master_keys(TEST_MASTER_KEYS)))
    assert store.state(new_scope()) is None and store.inventory().live == set()
    assert not (tmp_path / "keystore.sqlite3").exists()


@pytest.mark.openbao
def test_openbao_keys_are_not_exportable_and_not_deletable_until_destroyed():
    if not OPENBAO_ADDR:
        pytest.skip("needs OpenBao")
    store = openbao_store()
    scope = new_scope()
    store.create(scope)
    transit = store._client().secrets.transit
    config = transit.read_key(store.key_name(scope), mount_point=store.transit_mount)["data"]
    assert config["exportable"] is False and config["allow_plaintext_backup"] is False
    assert config["deletion_allowed"] is False and config["derived"] is True
    # The plaintext of a wrapped key comes back only through decrypt; nothing exports the KEK itself.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.export_key(store.key_name(scope), key_type="encryption-key", mount_point=store.transit_mount)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        transit.delete_key(store.key_name(scope), mount_point=store.transit_mount)
    receipt = store.destroy(scope)
    assert receipt.store_reported is not None


def test_a_store_that_does_not_answer_fails_fast():
    # A loopback port nobody listens on: connection refused at once, and a timeout bounds the rest.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = OpenBaoKeyStore(f"http://127.0.0.1:{port}", "token", timeout=(0.5, 1.0))
    started = time.monotonic()
    for call in (lambda: store.create(new_scope()), lambda: store.unwrap(new_scope(), 1, b"vault:v1:x", b"c"),
                 store.ping, lambda: store.destroy(new_scope())):
        with pytest.raises(KeyStoreUnavailable):
            call()
    assert time.monotonic() - started < 5
    assert "token" not in repr(store)


@pytest.mark.openbao
def test_the_documented_policy_is_enough_and_forbids_re_creating_a_key_by_encrypt():
    """deploy/openbao-policy.hcl: everything the store does works with it, and nothing re-creates a key."""
    if not OPENBAO_ADDR:
        pytest.skip("needs OpenBao")
    root = openbao_store()._client()
    policy = (Path(__file__).parents[2] / "deploy" / "openbao-policy.hcl").read_text()
    root.sys.create_or_update_policy(name="privacy-saas-test", policy=policy)
    token = root.auth.token.create(policies=["privacy-saas-test"], ttl="10m")["auth"]["client_token"]
    store = OpenBaoKeyStore(OPENBAO_ADDR, token, os.environ.get("OPENBAO_TRANSIT_MOUNT", "transit"),
                            os.environ.get("OPENBAO_KV_MOUNT", "privacy-saas"))
    scope = new_scope()
    store.create(scope)
    key = os.urandom(32)
    version, wrapped = store.wrap(scope, key, b"c")
    assert store.unwrap(scope, version, wrapped, b"c") == key
    assert store.rotate(scope) == 2
    assert store.rewrap(scope, 1, wrapped, b"c")[0] == 2
    assert store.key_name(scope) in store.inventory().live
    receipt = store.destroy(scope)
    assert receipt.versions == (1, 2) and store.state(scope).destroyed
    assert store.key_name(scope) in store.inventory().destroyed
    # Encrypt on a missing key is refused, not an upsert: the destroyed key stays destroyed.
    with pytest.raises(KeyStoreUnavailable, match="refused the token"):
        store._call("encrypt", store._transit.encrypt_data, store.key_name(scope), plaintext="AAAA",
                    context="Yw==", mount_point=store.transit_mount)
    assert store.state(scope).destroyed
    # And the token reaches nothing else: another mount's keys, or the system backend.
    with pytest.raises(KeyStoreUnavailable, match="refused the token"):
        store._call("read", store._transit.read_key, "someone-elses-key", mount_point=store.transit_mount)


@pytest.mark.parametrize("config, message", [
    ({"KEYSTORE": "vault"}, "must be local or openbao"),
    ({"KEYSTORE": "openbao", "OPENBAO_ADDR": None}, "needs OPENBAO_ADDR"),
    ({"OPENBAO_ADDR": "http://127.0.0.1:1", "OPENBAO_TOKEN": None}, "no token"),
    ({"KEYSTORE_BACKUP_RETENTION": "30 days"}, "ISO 8601 duration"),
])
def test_a_key_store_misconfiguration_refuses_start_with_a_clear_message(app, tmp_path_factory, config, message):
    with pytest.raises(RuntimeError, match=message):
        create_app({**conftest.test_config(tmp_path_factory), **config})


@pytest.mark.openbao
def test_a_missing_register_mount_is_named_and_the_retry_completes():
    if not OPENBAO_ADDR:
        pytest.skip("needs OpenBao")
    scope = new_scope()
    openbao_store().create(scope)
    misconfigured = OpenBaoKeyStore(OPENBAO_ADDR, openbao_token(), os.environ.get("OPENBAO_TRANSIT_MOUNT", "transit"),
                                    "no-such-mount")
    with pytest.raises(KeyUnavailable, match="no-such-mount"):
        misconfigured.destroy(scope)
    assert misconfigured.state(scope) is None  # deleted in transit, not registered yet
    receipt = openbao_store().destroy(scope, known_versions=[1])
    assert receipt.versions == (1,) and openbao_store().state(scope).destroyed
