"""Import 100,000 contacts (10% already suppressed) with field encryption on; print rows/s.

Run from the repository root:  python -m bench.contacts_import  [--rows N] [--batch-size N]
(or `python bench/contacts_import.py`). SQLite in a temporary directory by default;
with DATABASE_URL set (PRIVACY_SAAS_BENCH_DB=postgres) it uses that database, DROPS ITS
public SCHEMA first and leaves it empty. Goal: >= 5,000 rows/s on SQLite.
"""
from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

GOAL = 5_000
SKIP = 77


def make_csv(rows: int) -> bytes:
    """Return a CSV of `rows` synthetic contacts (no real person)."""
    lines = ["email,name,phone,company,job_title"]
    for i in range(rows):
        lines.append(f"person{i}@company{i % 5000}.example,Person {i} Example,+44 20 7946 {i % 10000:04d},"
                     f"Company {i % 5000} Ltd,Head of Data {i % 7}")
    return ("\n".join(lines) + "\n").encode()


def build_app(tmp: Path):
    from privacy_saas import create_app

    config = {
        "PRIVACY_SAAS_MASTER_KEYS": "1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "SECRET_KEY": secrets.token_urlsafe(32),
        "CONTROLLER_IMPORT_MAX_BYTES": 64 * 1024 * 1024,
    }
    if not os.environ.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
    os.environ.setdefault("PRIVACY_SAAS_INSTANCE", str(tmp / "instance"))
    os.environ.setdefault("PRIVACY_SAAS_LOG_LEVEL", "WARNING")
    return create_app(config)


def reset(app) -> str:
    from flask_migrate import upgrade

    from privacy_saas.extensions import db

    with app.app_context():
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
        upgrade()
    return dialect


def suppress_every_tenth(rows: int) -> int:
    """Put every tenth address of the file on the suppression list (setup, not timed)."""
    from privacy_saas.controller.bootstrap import ensure_ready
    from privacy_saas.controller.suppression import service as suppression
    from privacy_saas.controller.suppression.models import Suppression
    from privacy_saas.db import new_id
    from privacy_saas.extensions import db
    from privacy_saas import clock

    ensure_ready()
    now = clock.now()
    entries = [{"id": new_id(), "email_hash": suppression.email_hash(f"person{i}@company{i % 5000}.example"),
                "hash_scheme": suppression.HASH_SCHEME, "reason": "unsubscribe", "created_at": now}
               for i in range(0, rows, 10)]
    db.session.execute(sa.insert(Suppression), entries)
    db.session.commit()
    return len(entries)


def timed_import(data: bytes, batch_size: int):
    """Import `data` as the CLI does (commit per batch); return (report, parse seconds, total seconds)."""
    from privacy_saas.controller.contacts import importer
    from privacy_saas.extensions import db

    marks = {}
    start = time.perf_counter()
    report = importer.import_file(
        data, source="event", basis="legitimate_interest", batch_size=batch_size,
        on_parsed=lambda _report, _rows: marks.setdefault("parsed", time.perf_counter()),
        on_batch=lambda _report, _done: db.session.commit())
    db.session.commit()
    total = time.perf_counter() - start
    return report, marks["parsed"] - start, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args()
    if os.environ.get("PRIVACY_SAAS_BENCH_DB") == "postgres" and not os.environ.get("DATABASE_URL"):
        print("PRIVACY_SAAS_BENCH_DB=postgres needs DATABASE_URL")
        return SKIP

    with tempfile.TemporaryDirectory(prefix="bench-contacts-") as tmp:
        app = build_app(Path(tmp))
        dialect = reset(app)
        data = make_csv(args.rows)
        with app.app_context():
            from privacy_saas.controller.contacts.models import Contact
            from privacy_saas.extensions import db

            suppressed = suppress_every_tenth(args.rows)
            print(f"database: {dialect}; file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB; "
                  f"{suppressed:,} addresses already suppressed; batch size {args.batch_size}")
            print("encryption on: e-mail, name, phone and job title sealed with AES-256-GCM per row, "
                  "plus a blind index and a suppression hash (HMAC-SHA256) per row")

            report, parsed, total = timed_import(data, args.batch_size)
            print(f"first import:  {total:6.2f} s  -> {args.rows / total:8,.0f} rows/s "
                  f"(parse+validate {parsed:.2f} s, write {total - parsed:.2f} s); "
                  f"created {report.created:,}, suppressed {report.suppressed:,}, rejected {report.rejected_count}")
            stored = db.session.scalar(sa.select(sa.func.count()).select_from(Contact))
            sample = db.session.scalars(sa.select(Contact).limit(1)).one()
            assert stored == report.created == args.rows - suppressed, (stored, report.created)
            assert report.suppressed == suppressed
            assert sample.email.endswith(".example") and b"example" not in sample.email_ct
            db.session.expunge_all()

            report2, parsed2, total2 = timed_import(data, args.batch_size)
            print(f"re-import:     {total2:6.2f} s  -> {args.rows / total2:8,.0f} rows/s "
                  f"(every row matched and decrypted for comparison; unchanged {report2.unchanged:,}, "
                  f"suppressed {report2.suppressed:,})")
            rate = args.rows / total
            verdict = "meets" if rate >= GOAL else "MISSES"
            print(f"goal {GOAL:,} rows/s: first import {verdict} it (ratio {rate / GOAL:.2f}x)")
            db.session.remove()
            if dialect == "postgresql":
                # Leave no rows sealed under this run's throwaway master key behind.
                with db.engine.begin() as conn:
                    conn.exec_driver_sql("DROP SCHEMA public CASCADE")
                    conn.exec_driver_sql("CREATE SCHEMA public")
    return 0


if __name__ == "__main__":
    sys.exit(main())
