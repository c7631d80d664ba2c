"""Data-subject request benchmark: lookup in every scope and one subject's access export.

    .venv/bin/python -m bench.dsr            (SQLite; DATABASE_URL=postgresql+psycopg://... for PostgreSQL)

1,000,000 rows across 100 tenants (1,000 users + 9,000 usage events each), the subject a
user of three tenants and a vendor contact. Goals: lookup < 50 ms; access export < 200 ms.
"""
from __future__ import annotations

import os
import statistics
import sys
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.support import backend, make_app, seed_tenant, timer  # noqa: E402

TENANTS = int(os.environ.get("BENCH_DSR_TENANTS", 100))
USERS = int(os.environ.get("BENCH_DSR_USERS", 1_000))
EVENTS_PER_USER = int(os.environ.get("BENCH_DSR_EVENTS_PER_USER", 9))  # 100 x (1,000 + 9,000) = 1,000,000
SUBJECT = "ada.subject@example.org"
SUBJECT_TENANTS = (7, 42, 99)
SUBJECT_EVENTS = 200
LOOKUP_GOAL_MS, EXPORT_GOAL_MS = 50, 200
RUNS = 15


def seed(db) -> list:
    from privacy_saas import clock
    from privacy_saas.controller.bootstrap import ensure_ready
    from privacy_saas.controller.contacts import service as contacts
    from privacy_saas.crypto.keyring import keyring, tenant_scope
    from privacy_saas.processor.usage.models import SupportRequest, UsageEvent
    from privacy_saas.processor.users.models import RegisteredUser

    tenant_ids = []
    with timer() as took:
        for n in range(TENANTS):
            tenant_ids.append(seed_tenant(f"t{n:03d}", USERS, EVENTS_PER_USER))
    rows = TENANTS * USERS * (1 + EVENTS_PER_USER)
    print(f"seeded {rows:,} rows in {TENANTS} tenants in {took['seconds']:.1f} s")
    ensure_ready()
    contacts.create({"email": SUBJECT, "name": "Ada Subject", "source": "event", "lawful_basis": "consent"})
    now = clock.now()
    for n in sorted({n % TENANTS for n in SUBJECT_TENANTS}):
        tenant_id = tenant_ids[n % len(tenant_ids)]
        bidx = keyring().email_index(tenant_scope(tenant_id), SUBJECT)
        user = RegisteredUser(tenant_id=tenant_id, email=SUBJECT, display_name="Ada", email_bidx=bidx,
                              user_name=SUBJECT, user_name_bidx=bidx)
        db.session.add(user)
        db.session.flush()
        db.session.add_all(UsageEvent(tenant_id=tenant_id, user_id=user.id, kind="page_view",
                                      occurred_at=now - timedelta(minutes=e), detail={"path": f"/r/{e}"})
                           for e in range(SUBJECT_EVENTS))
        db.session.add(SupportRequest(tenant_id=tenant_id, user_id=user.id, subject="Help", body="Export please"))
    db.session.commit()
    if backend() == "postgres":
        # Bulk inserts leave the planner without statistics; a live database has them.
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
    return tenant_ids


def ms(values) -> str:
    return f"median {statistics.median(values) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"


def main() -> None:
    app = make_app()
    with app.test_request_context():
        from privacy_saas.extensions import db
        from privacy_saas.rights import service, tasks

        service.enqueue = lambda *args, **kwargs: None

        seed(db)
        with timer() as cold:
            matches = service.lookup(SUBJECT)
        assert matches.count == 1 + len({n % TENANTS for n in SUBJECT_TENANTS}), matches
        lookups = []
        for _ in range(RUNS):
            with timer() as took:
                service.lookup(SUBJECT)
            lookups.append(took["seconds"])
        print(f"lookup across {TENANTS} tenants + contacts: first {cold['seconds'] * 1000:.1f} ms (keys unwrapped), "
              f"{ms(lookups)}; goal < {LOOKUP_GOAL_MS} ms -> {statistics.median(lookups) * 1000 / LOOKUP_GOAL_MS:.2f}x")

        from privacy_saas.crypto.keyring import keyring, tenant_scope
        from privacy_saas.processor.tenants.models import Tenant

        ids = list(db.session.scalars(db.select(Tenant.id)))
        hmacs = []
        for _ in range(RUNS):
            with timer() as took:
                for tenant_id in ids:
                    keyring().email_index(tenant_scope(tenant_id), SUBJECT)
            hmacs.append(took["seconds"])
        print(f"  of which {len(ids)} blind indexes (cached keys): {ms(hmacs)}")

        exports_ = []
        for _ in range(RUNS):
            request = service.receive("access", SUBJECT, "email", "bench")
            db.session.commit()
            task = next(t for t in request.tasks if t.scope == "processor")
            service.approve(task, "bench")  # queues the job (held back here, run below and timed)
            db.session.commit()
            with timer() as took:
                tasks.build_export(str(task.id))
            db.session.refresh(task)
            assert task.export_status == "ready", task.export_status
            exports_.append(took["seconds"])
        print(f"access export of one subject ({SUBJECT_EVENTS} events, sealed ZIP) [{backend()}]: {ms(exports_)}; "
              f"goal < {EXPORT_GOAL_MS} ms -> {statistics.median(exports_) * 1000 / EXPORT_GOAL_MS:.2f}x")


if __name__ == "__main__":
    main()
