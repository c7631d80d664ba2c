"""Keyring, encrypted fields, blind index, rotation and crypto-shredding against the database."""
import logging
import uuid

import pytest
import sqlalchemy as sa

from privacy_saas.crypto import DecryptionError, KeyDestroyed, KeyUnavailable
from privacy_saas.crypto.cache import TTLCache
from privacy_saas.crypto.keyring import Keyring, keyring, tenant_scope
from privacy_saas.crypto.keystore import LocalKeyStore, OpenBaoKeyStore
from privacy_saas.crypto.models import DataKey, KeyCustody
from privacy_saas.crypto.providers import LocalKeyProvider, generate_master_key_spec, parse_master_keys
from privacy_saas.crypto.service import destroy_tenant_keys
from privacy_saas.crypto.startup import check_keys
from privacy_saas.processor.users.models import RegisteredUser


def add_user(session, tenant, email="ada@example.com", name="Ada Lovelace", **extra):
    user = RegisteredUser(tenant_id=tenant.id, email=email, display_name=name,
                          email_bidx=keyring().email_index(tenant_scope(tenant.id), email), user_name=email,
                          user_name_bidx=keyring().email_index(tenant_scope(tenant.id), email), **extra)
    session.add(user)
    session.flush()
    return user


def reload(session, user):
    key = (user.tenant_id, user.id)
    session.expunge_all()
    return session.get(RegisteredUser, key)


def raw(session, user, column="email_ct"):
    return session.execute(sa.text(f"SELECT {column} FROM registered_users WHERE id = :id"),
                           {"id": user.id.hex if session.get_bind().dialect.name == "sqlite" else user.id}).scalar()


def test_round_trip_and_nothing_plaintext_in_the_row(session, make_keyed_tenant):
    tenant = make_keyed_tenant()
    user = add_user(session, tenant, email="ada@example.com", name="Ada Ünïcode 名前",
                    given_name="", family_name=None)
    loaded = reload(session, user)
    assert loaded.email == "ada@example.com"
    assert loaded.display_name == "Ada Ünïcode 名前"
    assert loaded.given_name == ""
    assert loaded.family_name is None
    stored = bytes(raw(session, user))
    assert b"ada@example.com" not in stored and stored[0] == 1


def test_ciphertext_type_refuses_plaintext(session, make_keyed_tenant):
    tenant = make_keyed_tenant()
    user = add_user(session, tenant)
    user.email_ct = b"plain text"
    with pytest.raises(sa.exc.StatementError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize("swap", ["row", "column", "tenant"])
def test_moved_ciphertext_does_not_decrypt(session, make_keyed_tenant, swap):
    tenant, other_tenant = make_keyed_tenant(), make_keyed_tenant()
    first = add_user(session, tenant, email="a@example.com")
    second = add_user(session, tenant, email="b@example.com")
    foreign = add_user(session, other_tenant, email="c@example.com")
    if swap == "row":
        second.email_ct = first.email_ct
        target, attr = second, "email"
    elif swap == "column":
        first.display_name_ct = first.email_ct
        target, attr = first, "display_name"
    else:
        first.email_ct = foreign.email_ct
        target, attr = first, "email"
    session.flush()
    target = reload(session, target)
    with pytest.raises((DecryptionError, KeyUnavailable)):
        getattr(target, attr)


@pytest.mark.parametrize("damage", ["flip", "truncate", "format"])
def test_damaged_ciphertext_raises_decryption_error(session, make_keyed_tenant, damage):
    tenant = make_keyed_tenant()
    user = add_user(session, tenant)
    blob = bytearray(user.email_ct)
    if damage == "flip":
        blob[-5] ^= 0x01
    elif damage == "truncate":
        blob = blob[:20]
    else:
        blob[0] = 1  # keep the type's guard happy; corrupt the key version instead
        blob[1:5] = (99).to_bytes(4, "big")
    user.email_ct = bytes(blob)
    session.flush()
    with pytest.raises((DecryptionError, KeyUnavailable)):
        reload(session, user).email


def test_blind_index_normalises_and_differs_across_tenants(session, make_keyed_tenant):
    a, b = make_keyed_tenant(), make_keyed_tenant()
    ring = keyring()
    assert ring.email_index(tenant_scope(a.id), "Ada@Example.COM ") == ring.email_index(tenant_scope(a.id), "ada@example.com")
    assert ring.email_index(tenant_scope(a.id), "ada@example.com") != ring.email_index(tenant_scope(b.id), "ada@example.com")
    assert len(ring.email_index(tenant_scope(a.id), "x@y.z")) == 16


def test_blind_index_uniqueness_per_tenant(session, make_keyed_tenant):
    tenant = make_keyed_tenant()
    add_user(session, tenant, email="ada@example.com")
    with pytest.raises(sa.exc.IntegrityError):
        add_user(session, tenant, email="ADA@example.com")
    session.rollback()


def test_crypto_shred_makes_reads_fail(session, make_keyed_tenant):
    tenant, bystander = make_keyed_tenant(), make_keyed_tenant()
    user = add_user(session, tenant)
    kept = add_user(session, bystander, email="keep@example.com")
    shred = destroy_tenant_keys(tenant)
    assert sorted(shred.key_ids) == sorted([f"{tenant_scope(tenant.id)}/data/v1", f"{tenant_scope(tenant.id)}/index/v1"])
    [receipt] = shred.receipts
    assert receipt.backend == keyring().backend == shred.custody
    assert receipt.key_name == f"privacy-saas-tenant-{tenant.id}" and receipt.versions == (1,)
    assert keyring().store.state(tenant_scope(tenant.id)).destroyed
    assert keyring().store.state(tenant_scope(bystander.id)).versions == (1,)
    wrapped = session.scalars(sa.select(DataKey.wrapped).where(DataKey.scope == tenant_scope(tenant.id))).all()
    assert wrapped == [None, None]
    with pytest.raises(KeyDestroyed):
        reload(session, user).email
    with pytest.raises(KeyDestroyed):
        keyring().email_index(tenant_scope(tenant.id), "ada@example.com")
    assert reload(session, kept).email == "keep@example.com"


def test_other_process_shred_is_seen_after_recheck(app, session, make_keyed_tenant):
    """A cache entry is re-validated against data_keys within `recheck` seconds."""
    tenant = make_keyed_tenant()
    user = add_user(session, tenant)
    ring = keyring()
    now = [0.0]
    original = ring._cache
    ring._cache = TTLCache(ttl=300, recheck=5, clock=lambda: now[0])
    try:
        assert reload(session, user).email == "ada@example.com"
        # Another process destroys the keys: simulate by updating the rows behind the cache's back.
        session.execute(sa.update(DataKey).where(DataKey.scope == tenant_scope(tenant.id))
                        .values(wrapped=None, destroyed_at=sa.func.current_timestamp()))
        assert reload(session, user).email == "ada@example.com"  # still cached
        now[0] += 6
        with pytest.raises(KeyDestroyed):
            reload(session, user).email
    finally:
        ring._cache = original


def local_keyring(path, provider):
    """A keyring whose configured store is the local key-store file at `path`, under master keys `provider`.

    Not the session's file: a master rotation there would leave it under a master key no other test has.
    """
    return Keyring(provider, {"local": LocalKeyStore(path, provider)}, "local")


def test_master_rotation_then_restart_without_old_key(app, session, make_tenant, tmp_path):
    """The master key wraps old-layout data keys and local KEKs: rotation re-wraps both."""
    old = parse_master_keys(app.config["PRIVACY_SAAS_MASTER_KEYS"])
    new = parse_master_keys(generate_master_key_spec(version=2))
    original = app.extensions["privacy_saas.keyring"]
    legacy = make_tenant()
    path = tmp_path / "keystore.sqlite3"
    old_ring = local_keyring(path, LocalKeyProvider(old))
    app.extensions["privacy_saas.keyring"] = old_ring
    try:
        tenant = make_tenant()
        old_ring.create_scope(tenant_scope(tenant.id))
        user = add_user(session, tenant)
        # A scope on the layout before key stores: data keys wrapped by the master key directly.
        for purpose in ("data", "index"):
            master_version, wrapped = old_ring.provider.wrap(b"k" * 32, f"tenant:{legacy.id}:{purpose}:v1".encode())
            session.add(DataKey(scope=tenant_scope(legacy.id), purpose=purpose, version=1,
                                master_version=master_version, wrapped=wrapped))
        session.flush()
        legacy_user = add_user(session, legacy, email="old@example.com")
        rotated = local_keyring(path, LocalKeyProvider({**old, **new}))
        assert rotated.rewrap_all() >= 3  # two old-layout rows, at least one local KEK
        assert set(session.scalars(sa.select(DataKey.master_version).where(
            DataKey.scope == tenant_scope(legacy.id)))) == {2}
        assert {v for (v,) in LocalKeyStore(path, rotated.provider)._read(
            "SELECT DISTINCT master_version FROM keks")} == {2}
        restarted = local_keyring(path, LocalKeyProvider(new))
        check_keys(restarted)
        app.extensions["privacy_saas.keyring"] = restarted
        assert reload(session, user).email == "ada@example.com"
        assert reload(session, legacy_user).email == "old@example.com"
    finally:
        app.extensions["privacy_saas.keyring"] = original


def test_missing_master_key_refuses_start(app, session, make_tenant, tmp_path):
    tenant = make_tenant()
    path = tmp_path / "keystore.sqlite3"
    local_keyring(path, keyring().provider).create_scope(tenant_scope(tenant.id))
    wrong = local_keyring(path, LocalKeyProvider(parse_master_keys(generate_master_key_spec(version=1))))
    with pytest.raises(KeyUnavailable, match="master key version 1"):
        check_keys(wrong)
    absent = local_keyring(path, LocalKeyProvider(parse_master_keys(generate_master_key_spec(version=7))))
    with pytest.raises(KeyUnavailable, match="master key version 1 is not configured"):
        check_keys(absent)


def test_a_scope_whose_key_is_missing_from_its_store_refuses_start(app, session, make_keyed_tenant):
    """A key store that does not hold a live scope's KEK (wrong store, too old a backup): refuse, naming it."""
    tenant = make_keyed_tenant()
    ring = keyring()
    check_keys(ring)
    store = ring.store
    if isinstance(store, LocalKeyStore):
        elsewhere = LocalKeyStore(app.instance_path + "/another-keystore.sqlite3", ring.provider)
    else:
        elsewhere = OpenBaoKeyStore(store.addr, store._token, store.transit_mount, store.kv_mount,
                                    prefix="another-installation")
    wrong = Keyring(ring.provider, {**ring.stores, ring.backend: elsewhere}, ring.backend)
    with pytest.raises(KeyUnavailable, match=f"of tenant:{tenant.id} .*is missing"):
        check_keys(wrong)
    # A destroyed key is not missing: that scope was purged (this database is an older copy).
    destroy_tenant_keys(tenant)
    session.execute(sa.update(DataKey).where(DataKey.scope == tenant_scope(tenant.id))
                    .values(wrapped=b"restored", destroyed_at=None))
    session.execute(sa.update(KeyCustody).where(KeyCustody.scope == tenant_scope(tenant.id))
                    .values(destroyed_at=None))
    check_keys(ring)


def test_no_key_or_plaintext_in_logs(session, make_keyed_tenant, caplog):
    caplog.set_level(logging.DEBUG)
    canary = f"canary-{uuid.uuid4().hex}@example.com"
    tenant = make_keyed_tenant()
    user = add_user(session, tenant, email=canary, name="Canary Name " + canary)
    reload(session, user).email
    destroy_tenant_keys(tenant)
    with pytest.raises(KeyDestroyed) as info:
        reload(session, user).email
    text = caplog.text + repr(keyring()) + str(info.value) + repr(info.value)
    assert canary not in text
    assert "Canary Name" not in text
