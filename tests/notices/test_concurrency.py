"""Two staff members publishing one change, or notifying one breach, at the same moment: tenants are told once."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.extensions import db
from privacy_saas.notices import breaches, changes
from privacy_saas.notices.models import Notice
from tests.helpers import new_tenant, race

pytestmark = pytest.mark.postgres


@pytest.fixture
def tenants(app, committed, monkeypatch):
    # Delivery jobs would go to Redis with nobody to run them: this test is about the rows.
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    made = []
    for slug in ("one", "two", "three"):
        made.append(new_tenant(slug, name=slug))
    committed.commit()
    return made


def test_a_change_published_twice_at_once_notifies_each_tenant_once(app, committed, tenants):
    draft = changes.propose({"action": "add", "name": "MailCo", "purpose": "mail", "country": "IE",
                             "transfer_mechanism": "EEA", "effective_on": clock.today() + timedelta(days=31)},
                            publish=False)
    draft_id = draft.id
    committed.commit()
    outcomes = race(app, lambda: changes.publish_change(changes.get(draft_id, lock=True)))
    assert outcomes == ["invalid_transition", "ok"]
    assert committed.scalar(sa.select(sa.func.count()).select_from(Notice).where(Notice.change_id == draft_id)) == 3


def test_a_breach_notified_twice_at_once_is_sent_once(app, committed, tenants):
    breach = breaches.record({"scope": "processor", "tenants": ["one", "two", "three"], "nature": "lost laptop",
                              "occurred_at": clock.now() - timedelta(hours=2), "aware_at": clock.now(),
                              "consequences": "", "measures": ""})
    breach_id = breach.id
    committed.commit()
    outcomes = race(app, lambda: breaches.notify_tenants(breaches.get(breach_id, lock=True), None, "other"))
    assert outcomes == ["already_notified", "ok"]
    sent = committed.scalars(sa.select(Notice.sent_at).where(Notice.breach_id == breach_id)).all()
    assert len(sent) == 3 and all(sent)
