"""Field encryption and key custody benchmark, in one run: the users service with its keys in the local
key-store file, with its keys in OpenBao, and its plaintext twin; cold unwraps; purge start -> key destroyed.

    make bench BENCH=crypto           (both databases; OpenBao from scripts/services.sh)
    .venv/bin/python bench/crypto.py  (SQLite; DATABASE_URL=postgresql+psycopg://... for PostgreSQL;
                                       OPENBAO_ADDR + OPENBAO_TOKEN(_FILE) for the OpenBao column)

The plaintext twin is the same models and the same service code with the cipher and the
blind index swapped for identity functions (no AES-GCM, no HMAC), so the ratio is the
whole cost of encryption as a caller of the service layer sees it. The three run interleaved,
ROUNDS times; the figures are the best and the median round.
Goals: encrypted >= 0.9x plaintext for create and for read with a warm key cache (either store);
purge start -> key destroyed in the store < 100 ms; crypto-shred independent of the tenant's size.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
import timeit
import uuid
from contextlib import contextmanager
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import backend, make_app, seed_tenant, timer  # noqa: E402

USERS = int(os.environ.get("BENCH_CRYPTO_USERS", 5_000))
ROUNDS = int(os.environ.get("BENCH_CRYPTO_ROUNDS", 3))
SHRED_ROWS = int(os.environ.get("BENCH_CRYPTO_SHRED_ROWS", 100_000))
COLD_UNWRAPS = 200
PURGES = 5
BATCH = 500


class IdentityCipher:
    """Same envelope header, no encryption: the plaintext twin's 'cipher'."""

    def __init__(self, version: int = 1):
        from privacy_saas.crypto.envelope import FORMAT_VERSION

        self.version = version
        self._header = bytes([FORMAT_VERSION]) + version.to_bytes(4, "big")

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        # Same length as a real envelope (nonce and tag positions zero-filled).
        return self._header + bytes(12) + plaintext + bytes(16)

    def open(self, blob: bytes, aad: bytes) -> bytes:
        return blob[17:-16]


@contextmanager
def plaintext_twin():
    """Swap the keyring's cipher and blind index for identity functions."""
    from privacy_saas.crypto.blind_index import normalise_email
    from privacy_saas.crypto.keyring import Keyring

    cipher = IdentityCipher()
    saved = Keyring.writer, Keyring.reader, Keyring.email_index
    Keyring.writer = lambda self, scope: cipher
    Keyring.reader = lambda self, scope, version: cipher
    Keyring.email_index = lambda self, scope, email: normalise_email(email).encode()
    try:
        yield
    finally:
        Keyring.writer, Keyring.reader, Keyring.email_index = saved


def run_users(slug: str) -> tuple[float, float]:
    """Create USERS users through the service, then read each back in a fresh session; return rows/s."""
    from privacy_saas.crypto.service import create_tenant_keys
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.models import Tenant
    from privacy_saas.processor.users import service as users

    tenant = Tenant(slug=slug, name=slug, region="eu", contract_start=date(2020, 1, 1), end_action="delete",
                    status="active")
    db.session.add(tenant)
    db.session.flush()
    create_tenant_keys(tenant)
    db.session.commit()
    tenant_id = tenant.id
    ids = []
    with timer() as create:
        for n in range(USERS):
            user = users.create(tenant, email=f"person{n}@{slug}.example", display_name=f"Person Number {n}",
                                given_name="Person", family_name=f"Number {n}", actor=("system", None))
            ids.append(user.id)
            if n % BATCH == BATCH - 1:
                db.session.commit()
        db.session.commit()
    db.session.expunge_all()
    tenant = db.session.get(Tenant, tenant_id)
    with timer() as read:
        total = 0
        for user_id in ids:
            user = users.get(tenant, user_id)
            total += len(user.email) + len(user.display_name) + len(user.given_name) + len(user.family_name)
        db.session.rollback()
    return USERS / create["seconds"], USERS / read["seconds"]


def field_micros() -> tuple[float, float]:
    from privacy_saas.crypto.envelope import FieldCipher, build_aad
    from privacy_saas.crypto.providers import new_data_key

    cipher = FieldCipher(new_data_key(), 1)
    value = b"ada.lovelace@analytical-engine.example"[:40].ljust(40, b".")
    aad = build_aad("registered_users", "email", "tenant:00000000-0000-0000-0000-000000000000",
                    "01a207bd-0166-7b2f-aaeb-e5a5579ddaca")
    blob = cipher.seal(value, aad)
    n = 50_000
    seal = min(timeit.repeat(lambda: cipher.seal(value, aad), number=n, repeat=5)) / n * 1e6
    opened = min(timeit.repeat(lambda: cipher.open(blob, aad), number=n, repeat=5)) / n * 1e6
    return seal, opened


def shred_ms(slug: str, rows: int) -> float:
    from privacy_saas.crypto.service import destroy_tenant_keys
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.models import Tenant

    tenant_id = seed_tenant(slug, users=rows, events_per_user=0)
    tenant = db.session.get(Tenant, tenant_id)
    with timer() as t:
        destroy_tenant_keys(tenant)
        db.session.commit()
    return t["seconds"] * 1000


#: Calls to each key store's unwrap_many (one round trip each for OpenBao), while custody() is active.
STORE_CALLS: dict[str, int] = {}


@contextmanager
def custody(app, backend_name: str):
    """Make `backend_name` the configured key store (new tenants get their KEK there); count its unwraps."""
    from privacy_saas.crypto.keyring import Keyring

    original = app.extensions["privacy_saas.keyring"]
    ring = Keyring(original.provider, original.stores, backend_name)
    store = ring.store
    unwrap_many = store.unwrap_many

    def counted(*args, **kwargs):
        STORE_CALLS[backend_name] = STORE_CALLS.get(backend_name, 0) + 1
        return unwrap_many(*args, **kwargs)

    store.unwrap_many = counted
    app.extensions["privacy_saas.keyring"] = ring
    try:
        yield ring
    finally:
        app.extensions["privacy_saas.keyring"] = original
        del store.unwrap_many


def cold_unwrap_ms(ring) -> list[float]:
    """Load a scope's keys with an empty cache (one store round trip for its data and index keys), in ms."""
    from privacy_saas.crypto.keyring import tenant_scope
    from privacy_saas.crypto.service import create_tenant_keys
    from privacy_saas.extensions import db
    from privacy_saas.processor.tenants.models import Tenant

    tenant = Tenant(slug=f"cold-{uuid.uuid4().hex[:8]}", name="Cold", region="eu", contract_start=date(2020, 1, 1),
                    end_action="delete", status="active")
    db.session.add(tenant)
    db.session.flush()
    create_tenant_keys(tenant)
    db.session.commit()
    scope = tenant_scope(tenant.id)
    times = []
    for _ in range(COLD_UNWRAPS):
        ring._cache.pop(scope)
        started = time.perf_counter()
        ring.writer(scope)
        times.append((time.perf_counter() - started) * 1000)
    db.session.rollback()
    return times


def purge_to_destroyed_ms(ring) -> list[float]:
    """Run whole purges of small due tenants; return ms from the purge's start to the store's confirmation."""
    from privacy_saas.lifecycle import purge

    store = ring.store
    confirmed = []
    destroy = store.destroy

    def timed(*args, **kwargs):
        receipt = destroy(*args, **kwargs)
        confirmed.append(time.perf_counter())
        return receipt

    store.destroy = timed
    times = []
    try:
        for _ in range(PURGES):
            tenant_id = seed_tenant(f"purge-{uuid.uuid4().hex[:8]}", users=20, events_per_user=5, status="ended",
                                    contract_end=date(2020, 1, 31))
            confirmed.clear()
            started = time.perf_counter()
            assert purge.purge_tenant(tenant_id) == "purged"
            times.append((confirmed[0] - started) * 1000)
    finally:
        del store.destroy
    return times


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    return (f"median {statistics.median(ordered):6.2f} ms, p99 {ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]:6.2f} ms, "
            f"min {ordered[0]:6.2f} ms")


def main() -> None:
    app = make_app()
    stores = ["local"] + (["openbao"] if "openbao" in app.extensions["privacy_saas.keyring"].stores else [])
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in [*stores, "plaintext"]}
    with app.app_context():
        print(f"[{backend()}] {USERS:,} users through privacy_saas.processor.users.service (create, then get + read "
              f"4 fields), {ROUNDS} rounds of: {', '.join(rounds)}")
        names = list(rounds)
        for n in range(ROUNDS):
            # Each round in another order: a run after another pays for its predecessor's WAL and cache.
            for name in names[n % len(names):] + names[:n % len(names)]:
                slug = f"{name}-{n}-{uuid.uuid4().hex[:6]}"
                if name == "plaintext":
                    with custody(app, "local"), plaintext_twin():
                        rounds[name].append(run_users(slug))
                else:
                    with custody(app, name):
                        rounds[name].append(run_users(slug))
        warm_calls = dict(STORE_CALLS)
        cold, destroyed = {}, {}
        for name in stores:
            with custody(app, name) as ring:
                cold[name] = cold_unwrap_ms(ring)
                destroyed[name] = purge_to_destroyed_ms(ring)
        seal, opened = field_micros()
        small = shred_ms("shred-small", 1_000)
        large = shred_ms("shred-large", SHRED_ROWS)
    plain = rounds["plaintext"]
    for what, i in (("create", 0), ("read", 1)):
        base_best, base_median = max(r[i] for r in plain), statistics.median(r[i] for r in plain)
        line = [f"{what:<6} plaintext best {base_best:6.0f} median {base_median:6.0f} rows/s"]
        for name in stores:
            best, median = max(r[i] for r in rounds[name]), statistics.median(r[i] for r in rounds[name])
            line.append(f"{name} best {best:6.0f} median {median:6.0f} rows/s ({best / base_best:.2f}x, "
                        f"median {median / base_median:.2f}x)")
        print("  |  ".join(line) + "   (goal >= 0.9x, warm cache)")
    for name in stores:
        print(f"key-store unwraps during the {ROUNDS} x {USERS:,} creates and reads with {name}: "
              f"{warm_calls.get(name, 0)} (one per tenant: the cache is warm after it)")
    for name in stores:
        print(f"cold unwrap ({name}, data + index key of one scope, cache emptied): {ms(cold[name])}")
    for name in stores:
        print(f"purge start -> key destroyed in the store ({name}, {PURGES} purges): {ms(destroyed[name])}  "
              "(goal < 100 ms)")
    print(f"40-byte field: seal {seal:.2f} us, open {opened:.2f} us")
    print(f"crypto-shred (local store): 1,000-row tenant {small:.1f} ms, {SHRED_ROWS:,}-row tenant {large:.1f} ms")


if __name__ == "__main__":
    main()
