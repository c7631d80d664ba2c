"""Sub-processor changes: notice periods, one notice per tenant, answers, the scheduler, the register's history."""
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.jobs.scheduler import sweep
from privacy_saas.notices.models import Notice, NoticeTask, SubprocessorChange
from privacy_saas.subprocessors import service as register
from tests.helpers import bearer
from tests.notices.conftest import CHANGE, TODAY, mails_to

T0 = TODAY.date()


@pytest.fixture
def three(client_org):
    """Three tenants: two in the EU (30 and 45 days' notice), one in the US (14 days)."""
    return (client_org("acme", subprocessor_notice="P30D"), client_org("globex", subprocessor_notice="P45D"),
            client_org("initech", region="us", subprocessor_notice="P14D"))


def propose(client, headers, **fields):
    return client.post("/api/v1/subprocessors/changes", json={**CHANGE, **fields}, headers=headers)


def test_too_early_is_refused_naming_the_earliest_date_and_nothing_is_written(client, session, dpo, three, outbox):
    response = propose(client, dpo, effective_on=(T0 + timedelta(days=40)).isoformat())
    assert response.status_code == 400
    earliest = (T0 + timedelta(days=45)).isoformat()
    assert response.json["code"] == "notice_period"
    assert earliest in response.json["message"] and "globex" in response.json["message"]
    assert response.json["errors"]["effective_on"] == [f"the earliest allowed date is {earliest}"]
    assert session.scalar(sa.select(sa.func.count()).select_from(SubprocessorChange)) == 0
    assert session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0
    assert outbox() == []
    # The longest notice counts only for the regions the change touches.
    us_only = propose(client, dpo, tenant_regions=["us"], effective_on=(T0 + timedelta(days=14)).isoformat())
    assert us_only.status_code == 201, us_only.json


def test_publish_sends_one_notice_per_affected_tenant(client, session, dpo, three, outbox):
    acme, globex, initech = three
    effective = T0 + timedelta(days=45)
    response = propose(client, dpo, effective_on=effective.isoformat(), tenant_regions=["eu"])
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "published" and body["earliest_allowed"] == effective.isoformat()
    assert sorted(a["tenant"] for a in body["answers"]) == ["acme", "globex"]
    # Mail leaves once the notices are committed: the response says so, the next read shows the delivery.
    assert all(a["answer"] == "silent" and a["delivered_at"] is None for a in body["answers"])
    delivered = client.get(f"/api/v1/subprocessors/changes/{body['id']}", headers=dpo).json["answers"]
    assert [(a["recipients"], a["delivered_at"] is not None) for a in delivered] == [(2, True), (2, True)]
    # Each tenant's admins and privacy contacts get one mail; the US tenant is not affected.
    messages = outbox()
    assert sorted(m["To"] for m in messages) == ["admin@acme.example", "admin@globex.example",
                                                "dpo@acme.example", "dpo@globex.example"]
    [mail] = mails_to(messages, "dpo@acme.example")
    text = mail.get_content()
    assert "MailCo" in mail["Subject"] and "Acme Ltd" in mail["Subject"]
    assert effective.isoformat() in text and "Ireland (Dublin)" in text and "IE" in text
    assert (effective - timedelta(days=1)).isoformat() in text  # the last day to answer
    assert "@" not in text  # no address of anyone in the body
    # The API lists it for each affected tenant, once.
    listed = client.get("/api/v1/notices", headers=bearer(acme.token)).json
    assert [(n["kind"], n["content"]["name"], n["answer"]) for n in listed] == [("subprocessor_change", "MailCo", None)]
    assert listed[0]["can_object"] and listed[0]["can_acknowledge"]
    assert client.get("/api/v1/notices", headers=bearer(initech.token)).json == []
    # Each step is in each tenant's own chain.
    session.commit()
    chained = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.tenant_id == acme.id,
                                                                 AuditEntry.action.like("notice.%"))).all()
    assert sorted(chained) == ["notice.delivered", "notice.send"]


def test_objection_in_the_window_is_recorded_seen_by_staff_and_refused_after_the_date(client, session, dpo, three,
                                                                                  staff_headers):
    acme, globex, _ = three
    effective = T0 + timedelta(days=45)
    change = propose(client, dpo, effective_on=effective.isoformat()).json
    acme_notice = client.get("/api/v1/notices", headers=bearer(acme.token)).json[0]
    globex_notice = client.get("/api/v1/notices", headers=bearer(globex.token)).json[0]

    objected = client.post(f"/api/v1/notices/{acme_notice['id']}/objection", headers=bearer(acme.token),
                           json={"reason": "Our contract requires EU-only sub-processors with an audit report."})
    assert objected.status_code == 201, objected.json
    assert objected.json["answer"] == "objected" and not objected.json["can_object"]
    assert client.post(f"/api/v1/notices/{globex_notice['id']}/acknowledge",
                       headers=bearer(globex.token)).status_code == 200
    assert client.post(f"/api/v1/notices/{acme_notice['id']}/objection", headers=bearer(acme.token),
                       json={"reason": "again"}).status_code == 409

    # Staff see who acknowledged, who objected and why, who stayed silent.
    answers = {a["tenant"]: a for a in client.get(f"/api/v1/subprocessors/changes/{change['id']}", headers=dpo).json["answers"]}
    assert answers["acme"]["answer"] == "objected"
    assert answers["acme"]["objection_reason"].startswith("Our contract requires EU-only")
    assert answers["globex"]["answer"] == "acknowledged" and answers["initech"]["answer"] == "silent"
    # The account manager has a task.
    tasks = client.get("/api/v1/subprocessors/objections", headers=staff_headers("account_manager")).json
    assert [(t["tenant"], t["status"], t["change_id"]) for t in tasks] == [("acme", "open", change["id"])]
    # The reason is sealed under the tenant's key: not in the database in clear.
    raw = session.execute(sa.text("SELECT objection_reason_ct FROM notices WHERE objection_reason_ct IS NOT NULL")).scalar()
    assert b"EU-only" not in bytes(raw)

    # From the effective date, answers are refused, naming the last day.
    clock.travel_to(effective)
    late = client.post(f"/api/v1/notices/{globex_notice['id']}/objection", headers=bearer(globex.token),
                       json={"reason": "Too late?"})
    assert late.status_code == 409 and late.json["code"] == "objection_window_closed"
    assert (effective - timedelta(days=1)).isoformat() in late.json["message"]


def test_acknowledging_withdraws_an_objection_and_closes_its_task(client, session, dpo, three):
    acme = three[0]
    propose(client, dpo, effective_on=(T0 + timedelta(days=45)).isoformat())
    notice = client.get("/api/v1/notices", headers=bearer(acme.token)).json[0]
    client.post(f"/api/v1/notices/{notice['id']}/objection", headers=bearer(acme.token), json={"reason": "No."})
    acknowledged = client.post(f"/api/v1/notices/{notice['id']}/acknowledge", headers=bearer(acme.token))
    assert acknowledged.json["answer"] == "acknowledged" and acknowledged.json["objection_reason"] is None
    task = session.scalar(sa.select(NoticeTask))
    assert task.status == "done" and task.resolution == "the tenant withdrew its objection"


def test_the_scheduler_applies_the_change_on_its_date(client, session, dpo, three):
    acme = three[0]
    effective = T0 + timedelta(days=45)
    change = propose(client, dpo, effective_on=effective.isoformat()).json
    clock.travel_to(effective - timedelta(days=1))
    assert sweep()["notices"]["changes_applied"] == []
    assert [e.name for e in register.list_subprocessors()] == []
    clock.travel_to(effective)
    assert sweep()["notices"]["changes_applied"] == [change["id"]]
    [entry] = register.list_subprocessors()
    assert (entry.name, entry.country, entry.location, entry.safeguards) == (
        "MailCo", "IE", "Ireland (Dublin)", "none needed (EEA)")
    assert (entry.data_categories, entry.scopes, entry.tenant_regions) == (["contact_details", "identity"],
                                                                          ["processor"], [])
    assert entry.added_at.date() == effective
    applied = client.get(f"/api/v1/subprocessors/changes/{change['id']}", headers=dpo).json
    assert applied["status"] == "applied" and applied["new_subprocessor_id"] == str(entry.id)
    assert sweep()["notices"]["changes_applied"] == []  # once
    assert session.scalar(sa.select(AuditEntry.action).where(AuditEntry.tenant_id == acme.id,
                                                             AuditEntry.action == "notice.change_applied"))


def test_the_register_as_it_stood_on_a_past_date(client, session, dpo, three):
    acme = three[0]
    old = register.add({"name": "OldMail", "purpose": "e-mail", "location": "Germany", "safeguards": "EEA"})
    session.commit()
    effective = T0 + timedelta(days=45)
    propose(client, dpo, action="replace", subprocessor_id=str(old.id), effective_on=effective.isoformat())
    clock.travel_to(effective)
    sweep()
    clock.travel_to(effective + timedelta(days=10))

    def names(day):
        page = client.get(f"/api/v1/transparency?as_of={day.isoformat()}", headers=bearer(acme.token)).json
        assert page["subprocessors_as_of"] == day.isoformat()
        return [s["name"] for s in page["subprocessors"]]

    assert names(effective - timedelta(days=1)) == ["OldMail"]
    assert names(effective) == ["MailCo"]
    assert names(T0 - timedelta(days=1)) == []  # before OldMail was added
    assert [s["name"] for s in client.get("/api/v1/transparency", headers=bearer(acme.token)).json["subprocessors"]] == ["MailCo"]
    staff_view = client.get(f"/api/v1/subprocessors?as_of={(effective - timedelta(days=1)).isoformat()}", headers=dpo)
    assert [s["name"] for s in staff_view.json] == ["OldMail"]


def test_a_tenant_created_after_publication_is_notified_by_the_scheduler(client, session, dpo, three, client_org,
                                                                         outbox):
    change = propose(client, dpo, effective_on=(T0 + timedelta(days=45)).isoformat()).json
    late = client_org("hooli")
    assert client.get("/api/v1/notices", headers=bearer(late.token)).json == []
    assert sweep()["notices"]["late_notices"] == 1
    [notice] = client.get("/api/v1/notices", headers=bearer(late.token)).json
    assert notice["change_id"] == change["id"]
    assert len(mails_to(outbox(), "dpo@hooli.example")) == 1
    assert sweep()["notices"]["late_notices"] == 0


def test_withdrawal_tells_the_tenants_and_closes_tasks(client, session, dpo, three, outbox):
    acme = three[0]
    change = propose(client, dpo, effective_on=(T0 + timedelta(days=45)).isoformat()).json
    notice = client.get("/api/v1/notices", headers=bearer(acme.token)).json[0]
    client.post(f"/api/v1/notices/{notice['id']}/objection", headers=bearer(acme.token), json={"reason": "No."})
    withdrawn = client.post(f"/api/v1/subprocessors/changes/{change['id']}/withdraw", headers=dpo,
                            json={"reason": "we keep the current provider"})
    assert withdrawn.status_code == 200 and withdrawn.json["status"] == "withdrawn"
    assert session.scalar(sa.select(NoticeTask.resolution)) == "the change was withdrawn"
    withdrawals = [m for m in mails_to(outbox(), "dpo@acme.example") if "withdrawn" in m["Subject"]]
    assert len(withdrawals) == 1 and "we keep the current provider" in withdrawals[0].get_content()
    answer = client.post(f"/api/v1/notices/{notice['id']}/acknowledge", headers=bearer(acme.token))
    assert answer.status_code == 409 and answer.json["code"] == "change_withdrawn"
    clock.travel_to(T0 + timedelta(days=50))
    assert sweep()["notices"]["changes_applied"] == []


def test_a_draft_is_published_later_and_checked_then(client, session, dpo, three, outbox):
    effective = T0 + timedelta(days=45)
    draft = propose(client, dpo, effective_on=effective.isoformat(), draft=True).json
    assert draft["status"] == "draft" and draft["answers"] == [] and outbox() == []
    clock.travel_to(T0 + timedelta(days=2))  # 45 days' notice no longer fit
    refused = client.post(f"/api/v1/subprocessors/changes/{draft['id']}/publish", headers=dpo)
    assert refused.status_code == 400 and (T0 + timedelta(days=47)).isoformat() in refused.json["message"]


@pytest.mark.parametrize("fields,field", [
    ({"action": "replace"}, "subprocessor_id"),
    ({"action": "add", "subprocessor_id": "00000000-0000-0000-0000-000000000000"}, "subprocessor_id"),
    ({"name": ""}, "name"),
    ({"purpose": "mail to jane.doe@example.com's team"}, "purpose"),
    ({"effective_on": "2020-01-01"}, "effective_on"),
    ({"effective_on": "not a date"}, "effective_on"),
    ({"tenant_regions": ["mars"]}, "tenant_regions"),
    ({"country": "Atlantis"}, "country"),
    ({"country": "EU"}, "country"),
    ({"data_categories": ["x" * 101]}, "data_categories"),
    ({"data_categories": "e-mail addresses"}, "data_categories"),
])
def test_bad_input_is_a_400_naming_the_field(client, dpo, fields, field):
    body = {"effective_on": (T0 + timedelta(days=60)).isoformat(), **fields}
    response = propose(client, dpo, **body)
    assert response.status_code == 400, response.json
    assert field in response.json["errors"]


def test_countries_by_name_and_categories_in_ordinary_words(client, session, dpo, three, outbox):
    effective = T0 + timedelta(days=45)
    response = propose(client, dpo, effective_on=effective.isoformat(), country="Ireland",
                       data_categories=["E-mail addresses", "names", "IP addresses", "Voice recordings", "identity"])
    assert response.status_code == 201, response.json
    body = response.json
    assert (body["country"], body["country_name"]) == ("IE", "Ireland")
    assert body["data_categories"] == ["contact_details", "identity", "technical_ids"]
    assert body["data_category_labels"] == ["Voice recordings"]
    # Tenants are told both: the data map's categories, then the words that name none, as given.
    notice = session.scalars(sa.select(Notice)).first()
    assert notice.content["data_categories"] == ["contact_details", "identity", "technical_ids", "Voice recordings"]
    assert "Voice recordings" in outbox()[0].get_content()
    for name, code in (("united kingdom", "GB"), ("UK", "GB"), ("USA", "US"), ("de", "DE"), ("Deutschland", None)):
        answer = propose(client, dpo, effective_on=effective.isoformat(), country=name, draft=True)
        assert (answer.status_code, answer.json.get("country")) == ((201, code) if code else (400, None)), name
    clock.travel_to(effective)
    sweep()
    entry = next(e for e in register.list_subprocessors() if e.name == "MailCo")
    assert (entry.country, entry.data_categories, entry.data_category_labels) == (
        "IE", ["contact_details", "identity", "technical_ids"], ["Voice recordings"])


def test_one_pending_change_per_register_entry(client, session, dpo):
    entry = register.add({"name": "OldMail", "purpose": "e-mail", "location": "Germany", "safeguards": "EEA"})
    session.commit()
    first = propose(client, dpo, action="remove", subprocessor_id=str(entry.id),
                    effective_on=(T0 + timedelta(days=1)).isoformat())
    assert first.status_code == 201 and first.json["name"] == "OldMail"
    second = propose(client, dpo, action="replace", subprocessor_id=str(entry.id),
                     effective_on=(T0 + timedelta(days=1)).isoformat())
    assert second.status_code == 409 and second.json["code"] == "change_pending"


def test_the_register_entry_may_be_named_by_its_id(client, session, dpo):
    entry = register.add({"name": "OldMail", "purpose": "e-mail", "location": "Germany", "safeguards": "EEA"})
    other = register.add({"name": "OtherMail", "purpose": "e-mail", "location": "Germany", "safeguards": "EEA"})
    session.commit()
    effective = (T0 + timedelta(days=1)).isoformat()
    both = propose(client, dpo, action="remove", id=str(entry.id), subprocessor_id=str(other.id),
                   effective_on=effective)
    assert both.status_code == 400 and "id" in both.json["errors"]
    removal = propose(client, dpo, action="remove", id=str(entry.id), effective_on=effective)
    assert removal.status_code == 201, removal.json
    assert (removal.json["subprocessor_id"], removal.json["name"]) == (str(entry.id), "OldMail")


@pytest.mark.parametrize("role,status", [("support", 403), ("account_manager", 403), ("admin", 201)])
def test_only_dpo_and_admin_propose(client, staff_headers, role, status):
    assert propose(client, staff_headers(role), effective_on=(T0 + timedelta(days=1)).isoformat()).status_code == status


def test_a_tenant_never_sees_another_tenants_notice(client, session, dpo, three):
    acme, globex, _ = three
    propose(client, dpo, effective_on=(T0 + timedelta(days=45)).isoformat())
    [theirs] = client.get("/api/v1/notices", headers=bearer(globex.token)).json
    for method, suffix, body in (("get", "", None), ("post", "/acknowledge", None),
                                 ("post", "/objection", {"reason": "not mine"})):
        response = client.open(f"/api/v1/notices/{theirs['id']}{suffix}", method=method.upper(), json=body,
                               headers=bearer(acme.token))
        assert response.status_code == 404, (method, suffix)
    session.expire_all()
    assert session.scalar(sa.select(Notice.answer).where(Notice.id == uuid.UUID(theirs["id"]))) is None
    assert [n["id"] for n in client.get("/api/v1/notices", headers=bearer(acme.token)).json] != [theirs["id"]]
    # Staff tokens are not tenants: the tenant endpoints refuse them.
    assert client.get("/api/v1/notices", headers=dpo).status_code == 403
