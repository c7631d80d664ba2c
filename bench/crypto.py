"""Field encryption benchmark: the users service with encryption on vs its plaintext twin, in one run.

    make bench BENCH=crypto           (both databases)
    .venv/bin/python bench/crypto.py  (SQLite; DATABASE_URL=postgresql+psycopg://... for PostgreSQL)

The plaintext twin is the same models and the same service code with the cipher and the
blind index swapped for identity functions (no AES-GCM, no HMAC), so the ratio is the
whole cost of encryption as a caller of the service layer sees it.
Goals: encrypted >= 0.75x plaintext for create and for read; crypto-shred of a
100,000-row tenant < 100 ms and independent of size.
"""
from __future__ import annotations

import os
import sys
import timeit
from contextlib import contextmanager
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import backend, make_app, seed_tenant, timer  # noqa: E402

USERS = int(os.environ.get("BENCH_CRYPTO_USERS", 20_000))
SHRED_ROWS = int(os.environ.get("BENCH_CRYPTO_SHRED_ROWS", 100_000))
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


def main() -> None:
    app = make_app()
    with app.app_context():
        print(f"[{backend()}] {USERS:,} users through privacy_saas.processor.users.service (create, then get + read 4 fields)")
        enc_create, enc_read = run_users("encrypted")
        with plaintext_twin():
            plain_create, plain_read = run_users("plaintext")
        seal, opened = field_micros()
        small = shred_ms("shred-small", 1_000)
        large = shred_ms("shred-large", SHRED_ROWS)
    print(f"create  encrypted {enc_create:8.0f} rows/s   plaintext {plain_create:8.0f} rows/s   "
          f"ratio {enc_create / plain_create:.2f}x  (goal >= 0.75x)")
    print(f"read    encrypted {enc_read:8.0f} rows/s   plaintext {plain_read:8.0f} rows/s   "
          f"ratio {enc_read / plain_read:.2f}x  (goal >= 0.75x)")
    print(f"40-byte field: seal {seal:.2f} us, open {opened:.2f} us")
    print(f"crypto-shred: 1,000-row tenant {small:.1f} ms, {SHRED_ROWS:,}-row tenant {large:.1f} ms  (goal < 100 ms)")


if __name__ == "__main__":
    main()
