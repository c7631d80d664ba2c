"""SCIM load over loopback: privacy_saas beside django-scim2 (durable peer) and scim2-server (in memory).

    make bench BENCH=scim_load                           (SQLite, then PostgreSQL for privacy_saas)
    .venv/bin/python bench/scim_load.py [--users 1000] [--concurrency 4] [--workers 4] [--rounds 3]

Servers, all under gunicorn with the same settings (gthread, --threads 1, --keep-alive 30):
  privacy_saas   --workers processes; DATABASE_URL=postgresql+psycopg://... selects PostgreSQL, else a temp SQLite
  django-scim2   ../shared/peers/scim-durable/serve.sh (--workers processes, SQLite with our WAL settings);
                 no encryption, no blind index, no audit, no tenants
  scim2-server   in memory behind one lock, so one worker (more would each keep their own users)
  flask floor    a bare Flask app answering the same shapes with no work (the most any Flask app reaches here)

Each round runs the phases in order (create N users, filter each by `userName eq`, PATCH active=false,
DELETE), each phase on every server in turn, the order of the servers rotating from round to round, so
a slow spell of this shared machine falls on the servers of one comparison alike. The create body is what
Entra ID sends by default (userName, a work e-mail, name, displayName, externalId). Figures: the best
and the median round of each phase (req/s), and the ratios of ours to each peer, best to best and
median to median. Goal: ours >= 1.0x django-scim2 on every phase on SQLite.

On PostgreSQL a second part writes with 8 clients on one tenant, then 8 clients spread over 4
tenants (2 each): writers of one tenant share its audit chain, so this shows what serialises.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid

from bench.support.common import bench_env, database_label, make_app, make_tenant, shred_tenant, summary

ROOT = Path(__file__).resolve().parent.parent
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GOAL = {"django-scim2": 1.0}
#: The peer builds its venv on first use (pip): allow for it.
START_TIMEOUT = 300.0
#: No phase of a sane run takes this long; a hung server stops the bench instead of the machine.
PHASE_TIMEOUT = 600.0


def peer_script() -> Path:
    """Return the durable peer's serve.sh (SCIM_PEER_SERVE overrides where the checkout keeps it)."""
    configured = os.environ.get("SCIM_PEER_SERVE")
    if configured:
        return Path(configured)
    # ../shared beside the main checkout, or beside the folder of worktrees.
    for shared in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        candidate = shared / "peers" / "scim-durable" / "serve.sh"
        if candidate.exists():
            return candidate
    raise SystemExit("the durable peer is missing: set SCIM_PEER_SERVE to .../peers/scim-durable/serve.sh")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(app_path: str, port: int, workers: int, env: dict, log: Path) -> subprocess.Popen:
    """Start gunicorn on 127.0.0.1:port with the settings every server of the bench shares."""
    command = [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(workers), "--threads", "1",
               "-b", f"127.0.0.1:{port}", "--keep-alive", "30", app_path]
    handle = open(log, "wb")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def peer(port: int, token: str, workers: int, log: Path) -> subprocess.Popen:
    handle = open(log, "wb")  # noqa: SIM115 (closed with the process)
    script = peer_script()
    return subprocess.Popen(["bash", str(script), str(port), token, str(workers)], cwd=script.parent,
                            stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """Stop a server and its children (its own process group), waiting a bounded time."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


def wait_ready(target: Target, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{target.name} exited early; see {log}:\n{log.read_text()[-2000:]}")
        try:
            status, _body, _ = target.call("GET", "/Users?count=1")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"{target.name} did not start within {START_TIMEOUT:.0f} s; see {log}")


class Target:
    """One SCIM server under test (one tenant of it, for ours)."""

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


def run_phase(jobs: list, concurrency: int) -> tuple[float, list[float]]:
    """Run jobs [(target, method, path, body, expect, on_result)] on `concurrency` threads; return (wall s, latencies)."""
    latencies: list[float] = [0.0] * len(jobs)
    errors: list[str] = []
    next_index = iter(range(len(jobs)))
    lock = threading.Lock()
    deadline = time.monotonic() + PHASE_TIMEOUT

    def worker():
        while time.monotonic() < deadline:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            target, method, path, body, expect, on_result = jobs[i]
            status, payload, elapsed = target.call(method, path, body)
            latencies[i] = elapsed
            if status not in expect:
                with lock:
                    errors.append(f"{target.name}: {method} {path} -> {status} {payload[:200]!r}")
            elif on_result is not None:
                on_result(payload)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} unexpected answers, e.g. {errors[0]}")
    if next(next_index, None) is not None:
        raise SystemExit(f"a phase ran longer than {PHASE_TIMEOUT:.0f} s")
    return wall, latencies


class Users:
    """The users one round creates on one server, and the four phases over them."""

    PHASES = ("create", "filter userName eq", "patch active=false", "delete")

    def __init__(self, target: Target, count: int):
        self.target = target
        self.run = uuid.uuid4().hex[:8]
        self.ids: list[str | None] = [None] * count

    def name(self, i: int) -> str:
        return f"bench.{self.run}.{i}@corp.example"

    def jobs(self, phase: str) -> list:
        t, count = self.target, len(self.ids)
        if phase == "create":
            def keep(i):
                def on_result(payload):
                    self.ids[i] = json.loads(payload)["id"]
                return on_result
            return [(t, "POST", "/Users", {
                "schemas": [USER], "userName": self.name(i), "externalId": f"ext-{self.run}-{i}", "active": True,
                "displayName": f"Bench User {i}", "name": {"givenName": "Bench", "familyName": f"User {i}"},
                "emails": [{"value": f"bench.{self.run}.{i}@mail.example", "type": "work", "primary": True}],
            }, (201,), keep(i)) for i in range(count)]
        if phase == "filter userName eq":
            def one(payload):
                if json.loads(payload).get("totalResults") != 1:
                    raise SystemExit(f"{t.name}: a userName filter did not find exactly one user")
            return [(t, "GET", "/Users?filter=" + urllib.parse.quote(f'userName eq "{self.name(i)}"'), None, (200,),
                     one) for i in range(count)]
        if phase == "patch active=false":
            return [(t, "PATCH", f"/Users/{self.ids[i]}", {
                "schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]},
                (200, 204), None) for i in range(count)]
        return [(t, "DELETE", f"/Users/{self.ids[i]}", None, (204,), None) for i in range(count)]


def rounds(targets: list[Target], users: int, concurrency: int, count: int) -> dict:
    """Run `count` rounds; return {server: {phase: [req/s of each round]}} (and print each phase)."""
    figures: dict[str, dict[str, list[float]]] = {t.name: {p: [] for p in Users.PHASES} for t in targets}
    for round_no in range(count):
        order = targets[round_no % len(targets):] + targets[:round_no % len(targets)]
        plans = {t.name: Users(t, users) for t in targets}
        for phase in Users.PHASES:
            for target in order:
                wall, latencies = run_phase(plans[target.name].jobs(phase), concurrency)
                rps = users / wall
                figures[target.name][phase].append(rps)
                stats = summary(latencies)
                print(f"  round {round_no + 1}  {target.name:<13} {phase:<20} {rps:>7.0f} req/s  "
                      f"p50 {stats['p50']:>6.2f} ms  p99 {stats['p99']:>7.2f} ms", flush=True)
    return figures


def best_median(values: list[float]) -> tuple[float, float]:
    return max(values), statistics.median(values)


def report(figures: dict, ours: str, peers: list[str]) -> None:
    """Print req/s (best/median round) of each server and ours / each peer side by side."""
    head = f"{'phase':<20} {ours + ' best/med':>24}"
    for name in peers:
        head += f" {name + ' best/med':>26} {'ratio best/med':>15}"
    print("\n" + head)
    for phase in Users.PHASES:
        o_best, o_med = best_median(figures[ours][phase])
        line = f"{phase:<20} {o_best:>12.0f}/{o_med:<11.0f}"
        for name in peers:
            p_best, p_med = best_median(figures[name][phase])
            verdict = ""
            if name in GOAL:
                verdict = " ok" if o_med / p_med >= GOAL[name] else " MISSED"
            line += f" {p_best:>14.0f}/{p_med:<11.0f} {o_best / p_best:>6.2f}x/{o_med / p_med:.2f}x{verdict}"
        print(line)
    print(f"(goal: median ratio >= {GOAL['django-scim2']}x django-scim2 on every phase, on SQLite)")


def run_clients(plans: list[Users], phase: str) -> float:
    """Run one phase with a client thread per plan, each on its own target (tenant token); return req/s."""
    errors: list[str] = []
    deadline = time.monotonic() + PHASE_TIMEOUT

    def client(plan: Users):
        for target, method, path, body, expect, on_result in plan.jobs(phase):
            if time.monotonic() > deadline:
                errors.append("phase timeout")
                return
            status, payload, _elapsed = target.call(method, path, body)
            if status not in expect:
                errors.append(f"{method} {path} -> {status} {payload[:200]!r}")
            elif on_result is not None:
                on_result(payload)

    threads = [threading.Thread(target=client, args=(plan,)) for plan in plans]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} unexpected answers, e.g. {errors[0]}")
    return sum(len(plan.ids) for plan in plans) / (time.perf_counter() - started)


def tenants_part(tenants: list[Target], users: int, count: int) -> None:
    """8 writing clients on one tenant vs 8 over 4 tenants (2 each): create and patch, best/median req/s."""
    print(f"\nwriters of one tenant vs of four (privacy_saas only): 8 clients, {users:,} users per round")
    layouts = {"1 tenant": tenants[:1] * 8, "4 tenants": [t for t in tenants[:4] for _ in range(2)]}
    results = {label: {"create": [], "patch active=false": []} for label in layouts}
    for _ in range(count):
        for label, clients in layouts.items():
            plans = [Users(target, users // len(clients)) for target in clients]
            for phase in Users.PHASES:
                if phase.startswith("filter"):
                    continue
                rps = run_clients(plans, phase)
                if phase in results[label]:
                    results[label][phase].append(rps)
    for phase in ("create", "patch active=false"):
        one, four = best_median(results["1 tenant"][phase]), best_median(results["4 tenants"][phase])
        print(f"  {phase:<20} 1 tenant {one[0]:>6.0f}/{one[1]:<6.0f} req/s   4 tenants {four[0]:>6.0f}/{four[1]:<6.0f} "
              f"req/s   (median 1 tenant / 4 tenants: {one[1] / four[1]:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers of every multi-process server")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=["ours", "all"], default="all", help="ours: privacy_saas alone (profiling)")
    args = parser.parse_args()
    if args.rounds < 1 or args.users < 8:
        parser.error("at least one round of 8 users")

    env = bench_env()
    app = make_app()
    on_postgres = os.environ.get("DATABASE_URL", "").startswith("postgres")
    tenants = [make_tenant(app, "bench-scim") for _ in range(4 if on_postgres else 1)]
    with app.app_context():
        from privacy_saas.extensions import db

        db.engine.dispose()  # the servers are separate processes
    logs = Path(env["PRIVACY_SAAS_INSTANCE"])
    ports = {name: free_port() for name in ("ours", "django", "ref", "floor")}
    token = uuid.uuid4().hex
    processes: list[tuple[Target, subprocess.Popen, Path]] = []
    try:
        ours = Target("privacy_saas", ports["ours"], "/scim/v2", tenants[0][1])
        processes.append((ours, gunicorn("wsgi:app", ports["ours"], args.workers,
                                         {**env, "DATABASE_URL": os.environ.get("DATABASE_URL", "")},
                                         logs / "ours.log"), logs / "ours.log"))
        targets = [ours]
        if args.only == "all":
            django = Target("django-scim2", ports["django"], "/scim/v2", token)
            processes.append((django, peer(ports["django"], token, args.workers, logs / "django.log"),
                              logs / "django.log"))
            ref = Target("scim2-server", ports["ref"], "/v2", token)
            processes.append((ref, gunicorn("bench.support.scim_ref_wsgi:app", ports["ref"], 1, {"SCIM_TOKEN": token},
                                            logs / "ref.log"), logs / "ref.log"))
            floor = Target("flask floor", ports["floor"], "/v2", token)
            processes.append((floor, gunicorn("bench.support.floor_wsgi:app", ports["floor"], args.workers, {},
                                              logs / "floor.log"), logs / "floor.log"))
            targets += [django, ref, floor]
        for target, process, log in processes:
            wait_ready(target, process, log)
        print(f"privacy_saas on {database_label()}; django-scim2 on SQLite (WAL); {args.users:,} users per round, "
              f"concurrency {args.concurrency}, {args.rounds} rounds; gunicorn gthread {args.workers}x1 "
              f"(scim2-server 1x1: in memory); load average {os.getloadavg()[0]:.2f} at start", flush=True)
        for target in targets:  # warm up: imports, keys, connections
            for _ in range(20):
                target.call("GET", "/Users?count=1")
        figures = rounds(targets, args.users, args.concurrency, args.rounds)
        if args.only == "all":
            report(figures, "privacy_saas", ["django-scim2", "scim2-server", "flask floor"])
        else:
            report(figures, "privacy_saas", [])
        if on_postgres:
            tenants_part([Target(f"tenant {n}", ports["ours"], "/scim/v2", tok) for n, (_tid, tok) in enumerate(tenants)],
                         args.users, args.rounds)
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        for _target, process, _log in processes:
            stop(process)
        for tenant_id, _token in tenants:
            shred_tenant(app, tenant_id)


if __name__ == "__main__":
    main()
