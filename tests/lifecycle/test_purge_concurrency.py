"""Purging one tenant while another is served: the other loses nothing and keeps working."""
import threading
import time
from datetime import date

import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.auth import tokens
from privacy_saas.extensions import db
from privacy_saas.lifecycle import purge
from privacy_saas.processor.usage.models import SupportRequest, UsageEvent
from privacy_saas.processor.users.models import RegisteredUser
from tests.helpers import http, serving
from tests.lifecycle.conftest import rows_of, seed

MAX_SECONDS = 60
MAX_ROUNDS = 2000


def test_purge_beside_a_busy_tenant(app, committed):
    doomed = seed("doomed", users=40, events_per_user=25, status="ended", contract_end=date(2020, 1, 31))
    busy = seed("busy", users=2, events_per_user=1, support=0)
    token = tokens.issue(kind="tenant", name="load", tenant_id=busy.id)[1]
    user_id = str(db.session.scalars(sa.select(RegisteredUser.id).where(RegisteredUser.tenant_id == busy.id)).first())
    busy_id, doomed_id = busy.id, doomed.id
    db.session.commit()
    before_busy = rows_of(busy_id)
    db.session.commit()  # end the read: on SQLite an open transaction holds the write lock
    outcomes, stop = [], threading.Event()

    with serving(app) as url:
        def load():
            deadline = time.monotonic() + MAX_SECONDS
            for n in range(MAX_ROUNDS):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                event = {"user_id": user_id, "kind": "page_view", "occurred_at": clock.now().isoformat()}
                outcomes.append(("events", *http("POST", f"{url}/api/v1/usage-events", token,
                                                 {"events": [event, event]})))
                outcomes.append(("support", *http("POST", f"{url}/api/v1/support-requests", token,
                                                  {"user_id": user_id, "subject": f"s{n}", "body": "b"})))
                outcomes.append(("read", *http("GET", f"{url}/api/v1/exports", token)))

        thread = threading.Thread(target=load)
        thread.start()
        try:
            while len(outcomes) < 6:  # the load is running before the purge starts
                time.sleep(0.01)
            with app.app_context():
                assert purge.purge_tenant(doomed_id, batch=50) == "purged"
            time.sleep(0.2)
        finally:
            stop.set()
            thread.join(timeout=MAX_SECONDS + 10)
    failures = [o for o in outcomes if o[1] >= 400]
    assert not failures, failures[:5]
    accepted_events = 2 * sum(1 for o in outcomes if o[0] == "events")
    accepted_support = sum(1 for o in outcomes if o[0] == "support")
    db.session.expire_all()
    assert sum(rows_of(doomed_id).values()) == 0
    after = rows_of(busy_id)
    assert after["usage_events"] == before_busy["usage_events"] + accepted_events
    assert after["support_requests"] == before_busy["support_requests"] + accepted_support
    assert after["registered_users"] == before_busy["registered_users"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)) == after["usage_events"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SupportRequest)) == after["support_requests"]
