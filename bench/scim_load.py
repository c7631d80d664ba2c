"""SCIM load over loopback: privacy_saas vs the reference scim2-server, both under gunicorn.

Run from the repository root: python -m bench.scim_load [--users 2000] [--concurrency 4]
DATABASE_URL=postgresql+psycopg://... selects PostgreSQL for privacy_saas; default a temp SQLite.
Phases, each at the given concurrency: create N users (POST /Users), filter each by
`userName eq`, PATCH active=false, DELETE. Prints req/s and p50/p99 per phase and the ratios
(goal: privacy_saas >= 1.5x the reference on every phase). Needs the `bench` extra (scim2-server).

A third server, a bare Flask app doing nothing (bench/support/floor_wsgi.py) under the same
gunicorn settings as privacy_saas, gives the framework floor: the most any Flask application
can answer on this machine with this client. Where 1.5x the reference is above that floor,
the goal cannot be met by any Flask application, and the table says so.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

from bench.support.common import bench_env, database_label, make_app, make_tenant, shred_tenant, summary

ROOT = Path(__file__).resolve().parent.parent
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GOAL_RATIO = 1.5
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(app_path: str, port: int, workers: int, threads: int, env: dict, log: Path) -> subprocess.Popen:
    """Start gunicorn on 127.0.0.1:port (gthread workers, as in production)."""
    command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(threads),
               "-b", f"127.0.0.1:{port}", "--keep-alive", "30", app_path]
    handle = open(log, "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stdout=handle, stderr=subprocess.STDOUT)


def wait_ready(port: int, path: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited early; see {log}:\n{log.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not start within {START_TIMEOUT:.0f} s; see {log}")


class Target:
    """One SCIM server under test."""

    def __init__(self, name: str, port: int, base: str, token: str):
        self.name, self.port, self.base, self.token = name, port, base, token
        self.local = threading.local()

    def conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return conn

    def call(self, method: str, path: str, body=None) -> tuple[int, bytes, float]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        for attempt in (1, 2):  # one reconnect if the server closed an idle keep-alive connection
            started = time.perf_counter()
            try:
                conn = self.conn()
                conn.request(method, self.base + path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                return response.status, payload, time.perf_counter() - started
            except (http.client.HTTPException, ConnectionError):
                self.local.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def run_phase(target: Target, count: int, concurrency: int, request, expect: int, on_result=None):
    """Run request(i) for i in range(count) on `concurrency` threads; return (wall s, latencies, errors)."""
    latencies: list[float] = [0.0] * count
    errors: list[str] = []
    next_index = iter(range(count))
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            method, path, body = request(i)
            status, payload, elapsed = target.call(method, path, body)
            latencies[i] = elapsed
            if status not in expect:
                with lock:
                    errors.append(f"{method} {path} -> {status} {payload[:160]!r}")
            elif on_result is not None:
                on_result(i, payload)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, errors


def phases_for(target: Target, users: int) -> list:
    """Return the four phases for one server: (name, expected statuses, request(i), on_result)."""
    run = uuid.uuid4().hex[:6]
    ids: list[str | None] = [None] * users

    def user_name(i):
        return f"bench-{run}-{i}@example.com"

    def store_id(i, payload):
        ids[i] = json.loads(payload)["id"]

    def found_one(i, payload):
        if json.loads(payload).get("totalResults") != 1:
            raise SystemExit(f"{target.name}: filter for user {i} did not find exactly one user")

    return [
        ("create", (201,), lambda i: ("POST", "/Users", {
            "schemas": [USER], "userName": user_name(i), "externalId": f"ext-{run}-{i}", "active": True,
            "displayName": f"Bench User {i}", "name": {"givenName": "Bench", "familyName": f"User {i}"}}), store_id),
        ("filter userName eq", (200,), lambda i: (
            "GET", "/Users?filter=" + urllib.parse.quote(f'userName eq "{user_name(i)}"'), None), found_one),
        ("patch active=false", (200, 204), lambda i: ("PATCH", f"/Users/{ids[i]}", {
            "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}), None),
        ("delete", (204,), lambda i: ("DELETE", f"/Users/{ids[i]}", None), None),
    ]


def run_targets(targets: list[Target], users: int, concurrency: int) -> dict:
    """Run each phase on every server in turn; return {server: {phase: figures}}.

    Phase by phase rather than server by server, so that a slow spell of this shared
    machine falls on the servers of one comparison alike instead of on one of them.
    """
    plans = {target.name: phases_for(target, users) for target in targets}
    results: dict[str, dict] = {target.name: {} for target in targets}
    for index in range(len(plans[targets[0].name])):
        for target in targets:
            name, expect, request, on_result = plans[target.name][index]
            wall, latencies, errors = run_phase(target, users, concurrency, request, expect, on_result)
            if errors:
                raise SystemExit(f"{target.name} {name}: {len(errors)} unexpected answers, e.g. {errors[0]}")
            figures = summary(latencies)
            figures["rps"] = users / wall
            results[target.name][name] = figures
            print(f"  {target.name:<13} {name:<20} {figures['rps']:>8.0f} req/s  p50 {figures['p50']:>7.2f} ms  "
                  f"p99 {figures['p99']:>7.2f} ms", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers for privacy_saas")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (both servers)")
    args = parser.parse_args()

    env = bench_env()
    app = make_app()
    tenant_id, token = make_tenant(app, "bench-scim")
    with app.app_context():
        from privacy_saas.extensions import db

        db.engine.dispose()  # the servers are separate processes
    logs = Path(env["PRIVACY_SAAS_INSTANCE"])
    ours_port, ref_port, floor_port = free_port(), free_port(), free_port()
    ref_token = uuid.uuid4().hex
    processes = []
    try:
        ours = start_gunicorn("wsgi:app", ours_port, args.workers, args.threads, {**env, "DATABASE_URL": os.environ.get("DATABASE_URL", "")}, logs / "ours.log")
        processes.append(ours)
        ref = start_gunicorn("bench.support.scim_ref_wsgi:app", ref_port, 1, args.threads, {"SCIM_TOKEN": ref_token},
                             logs / "ref.log")
        processes.append(ref)
        floor = start_gunicorn("bench.support.floor_wsgi:app", floor_port, args.workers, args.threads, {},
                               logs / "floor.log")
        processes.append(floor)
        wait_ready(ours_port, "/scim/v2/ServiceProviderConfig", ours, logs / "ours.log")
        wait_ready(ref_port, "/v2/ServiceProviderConfig", ref, logs / "ref.log")
        wait_ready(floor_port, "/v2/Users", floor, logs / "floor.log")
        print(f"database: {database_label()}; {args.users:,} users, concurrency {args.concurrency}; "
              f"privacy_saas: gunicorn {args.workers}x{args.threads} gthread; "
              f"reference scim2-server: gunicorn 1x{args.threads} gthread (in-memory, single worker)")
        targets = [Target("privacy_saas", ours_port, "/scim/v2", token),
                   Target("scim2-server", ref_port, "/v2", ref_token),
                   Target("flask floor", floor_port, "/v2", "none")]
        for target in targets:  # warm up: imports, keys, connections
            target.call("GET", "/Users?count=1")
        results = run_targets(targets, args.users, args.concurrency)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shred_tenant(app, tenant_id)

    ours_r, ref_r, floor_r = results["privacy_saas"], results["scim2-server"], results["flask floor"]
    print(f"\n{'phase':<20} {'ours req/s':>10} {'ref req/s':>10} {'ratio':>6}  {'ours p50/p99 ms':>16}  "
          f"{'ref p50/p99 ms':>16}  {'floor req/s':>11} {'goal req/s':>10}  goal >= {GOAL_RATIO}x")
    for phase in ours_r:
        ratio = ours_r[phase]["rps"] / ref_r[phase]["rps"]
        goal = GOAL_RATIO * ref_r[phase]["rps"]
        verdict = "OK" if ratio >= GOAL_RATIO else "MISSED"
        if goal > floor_r[phase]["rps"]:
            verdict += " (goal above the Flask floor)"
        else:
            # CPU time per request an application may spend beyond the bare framework and still
            # meet the goal, if it used every core of the machine.
            budget_us = (os.cpu_count() or 1) * (1 / goal - 1 / floor_r[phase]["rps"]) * 1e6
            verdict += f" (app budget above the floor: {budget_us:.0f} us CPU/request)"
        print(f"{phase:<20} {ours_r[phase]['rps']:>10.0f} {ref_r[phase]['rps']:>10.0f} {ratio:>5.2f}x  "
              f"{ours_r[phase]['p50']:>7.2f}/{ours_r[phase]['p99']:<8.2f}  "
              f"{ref_r[phase]['p50']:>7.2f}/{ref_r[phase]['p99']:<8.2f}  "
              f"{floor_r[phase]['rps']:>11.0f} {goal:>10.0f}  {verdict}")


if __name__ == "__main__":
    main()
