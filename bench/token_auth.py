"""Tenant-token authentication with the per-process token cache and without it, side by side in one run.

    make bench BENCH=token_auth
    .venv/bin/python bench/token_auth.py   (SQLite; DATABASE_URL=postgresql+psycopg://... for PostgreSQL)

Two apps on the same database, one with TOKEN_CACHE_SECONDS=30 (the default) and one with 0 (every
request reads the token and its tenant), measured interleaved ROUNDS times:
- "auth": authenticating one request alone (auth.principal.load_principal in a request context,
  then the session's end), per request;
- "scim get": a whole GET /scim/v2/Users/<id> through the test client, per request.
The figures are the best and the median round; the ratio is cached / uncached (lower is faster).
"""
from __future__ import annotations

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support.common import bench_env, database_label, make_app, make_tenant  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_TOKEN_AUTH_ROUNDS", 7))
REQUESTS = int(os.environ.get("BENCH_TOKEN_AUTH_REQUESTS", 500))
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def main() -> None:
    bench_env()
    from privacy_saas import create_app
    from privacy_saas.auth import token_cache
    from privacy_saas.auth.principal import load_principal
    from privacy_saas.extensions import db

    cached = make_app()
    uncached = create_app({"RATELIMIT_ENABLED": False, "TOKEN_CACHE_SECONDS": 0})
    _tenant_id, token = make_tenant(cached, "token-auth")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    created = cached.test_client().post("/scim/v2/Users", headers=headers, json={
        "schemas": [USER], "userName": "ada@corp.example", "name": {"givenName": "Ada", "familyName": "L"}})
    assert created.status_code == 201, created.get_data(as_text=True)
    user_url = f"/scim/v2/Users/{created.json['id']}"
    with cached.app_context():
        cache = token_cache.for_app()
        deadline = time.monotonic() + 15
        while cache.generation() is None and time.monotonic() < deadline:  # PostgreSQL: the listener connects
            time.sleep(0.05)
        if cache.generation() is None:
            raise SystemExit("the token cache's listener did not connect")

    def auth(app) -> float:
        started = time.perf_counter()
        for _ in range(REQUESTS):
            with app.test_request_context("/scim/v2/Users", headers=headers):
                assert load_principal() is not None
                db.session.remove()
        return (time.perf_counter() - started) / REQUESTS * 1000

    def scim_get(app) -> float:
        client = app.test_client()
        started = time.perf_counter()
        for _ in range(REQUESTS):
            response = client.get(user_url, headers=headers)
            assert response.status_code == 200, response.status_code
        return (time.perf_counter() - started) / REQUESTS * 1000

    apps = {"cached": cached, "uncached": uncached}
    for app in apps.values():  # warm up: the token's touch, connections, imports
        auth(app)
        scim_get(app)
    figures = {(phase, name): [] for phase in ("auth", "scim get") for name in apps}
    for _ in range(ROUNDS):
        for name, app in apps.items():
            figures[("auth", name)].append(auth(app))
            figures[("scim get", name)].append(scim_get(app))

    print(f"token authentication, {database_label()}: {ROUNDS} rounds x {REQUESTS} requests, ms/request")
    print(f"{'':<10}{'uncached min/median':>22}{'cached min/median':>20}{'ratio (median)':>17}{'saved':>10}")
    for phase in ("auth", "scim get"):
        off, on = figures[(phase, "uncached")], figures[(phase, "cached")]
        print(f"{phase:<10}{min(off):>12.3f} / {statistics.median(off):<7.3f}{min(on):>10.3f} / "
              f"{statistics.median(on):<7.3f}{statistics.median(on) / statistics.median(off):>12.2f}x"
              f"{statistics.median(off) - statistics.median(on):>10.3f}")


if __name__ == "__main__":
    main()
