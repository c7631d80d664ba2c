"""Profile the SCIM paths in-process: create, get, filter, patch, delete N users through the test client.

    .venv/bin/python bench/support/scim_profile.py [N] [create|get|filter|patch|delete]
    SCIM_PROFILE=0 ...   the same requests without the profiler (real ms per request, in-process)
    SCIM_PROFILE_SORT=tottime, SCIM_PROFILE_MATCH=privacy_saas   pstats sort key, and a regex of the lines shown

SQLite in a temp instance (DATABASE_URL selects PostgreSQL). Prints ms per request for each phase
(with the profiler on: roughly 2-3x the real cost) and cProfile's top functions of the chosen phase.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent.parent))

import cProfile
import io
import os
import pstats
import time
import uuid

from bench.support.common import bench_env, make_app, make_tenant

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PHASES = ("create", "get", "filter", "patch", "delete")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    shown = sys.argv[2] if len(sys.argv) > 2 else "create"
    if count < 1 or count > 100_000 or shown not in PHASES:
        raise SystemExit(__doc__)
    profiling = os.environ.get("SCIM_PROFILE", "1") != "0"
    bench_env()
    app = make_app()
    _tenant_id, token = make_tenant(app, "profile")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    run = uuid.uuid4().hex[:6]

    def body(i: int) -> dict:
        return {"schemas": [USER], "userName": f"u{run}{i}@corp.example", "externalId": f"e{run}{i}",
                "active": True, "displayName": f"User {i}", "name": {"givenName": "Bench", "familyName": f"U{i}"},
                "emails": [{"value": f"u{run}{i}@mail.example", "type": "work", "primary": True}]}

    for i in range(20):  # warm up: imports, keys, connections
        client.post("/scim/v2/Users", json=body(-i - 1), headers=headers)
    ids: list[str] = []
    profiles, per_request = {}, {}
    for phase in PHASES:
        profile = cProfile.Profile()
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiling:
            profile.enable()
        for i in range(count):
            if phase == "create":
                response = client.post("/scim/v2/Users", json=body(i), headers=headers)
                ids.append(response.json["id"])
            elif phase == "get":
                response = client.get(f"/scim/v2/Users/{ids[i]}", headers=headers)
            elif phase == "filter":
                wanted = f'userName eq "u{run}{i}@corp.example"'
                response = client.get("/scim/v2/Users", query_string={"filter": wanted}, headers=headers)
            elif phase == "patch":
                response = client.patch(f"/scim/v2/Users/{ids[i]}", headers=headers, json={
                    "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]})
            else:
                response = client.delete(f"/scim/v2/Users/{ids[i]}", headers=headers)
            if response.status_code >= 300:
                raise SystemExit(f"{phase}: {response.status_code} {response.get_data(as_text=True)[:200]}")
        profile.disable()
        per_request[phase] = ((time.perf_counter() - started) / count * 1000,
                              (time.process_time() - cpu_started) / count * 1000)
        profiles[phase] = profile
    for phase, (ms, cpu_ms) in per_request.items():
        print(f"{phase:<8} {ms:6.2f} ms/request, {cpu_ms:6.2f} ms CPU ({'profiled' if profiling else 'no profiler'})")
    if not profiling:
        return
    out = io.StringIO()
    pstats.Stats(profiles[shown], stream=out).sort_stats(os.environ.get("SCIM_PROFILE_SORT", "cumulative")).print_stats(
        *([os.environ["SCIM_PROFILE_MATCH"]] if os.environ.get("SCIM_PROFILE_MATCH") else []), 60)
    print(out.getvalue())


if __name__ == "__main__":
    main()
