"""The breach register: per-tenant deadlines, overdue listing, notifying, acknowledgement, the controller's clock."""
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.jobs.scheduler import sweep
from privacy_saas.notices.models import Breach, Notice
from tests.helpers import bearer
from tests.notices.conftest import TODAY, mails_to

AWARE = TODAY - timedelta(hours=2)
INCIDENT = {"occurred_at": (AWARE - timedelta(days=1)).isoformat(), "aware_at": AWARE.isoformat(),
            "nature": "A misconfigured backup bucket was publicly readable for 26 hours.",
            "data_categories": ["names", "e-mail addresses", "usage events"],
            "subject_categories": ["registered users"], "approx_subjects": 1200,
            "consequences": "Possible phishing against the users concerned.",
            "measures": "Bucket closed; access logs reviewed; keys rotated."}


@pytest.fixture
def three(client_org):
    """Three tenants promising 24, 48 and 72 hours."""
    return (client_org("acme", breach_notice="PT24H"), client_org("globex", breach_notice="PT48H"),
            client_org("initech", breach_notice="PT72H"))


def record(client, headers, **fields):
    return client.post("/api/v1/breaches", json={**INCIDENT, **fields}, headers=headers)


def test_processor_breach_over_three_tenants_runs_three_clocks(client, session, dpo, three, outbox, runner):
    response = record(client, dpo, scope="processor", tenants=["acme", "globex", "initech"])
    assert response.status_code == 201, response.json
    body = response.json
    deadlines = {n["tenant"]: n["deadline"] for n in body["notifications"]}
    assert deadlines == {"acme": (AWARE + timedelta(hours=24)).isoformat(),
                         "globex": (AWARE + timedelta(hours=48)).isoformat(),
                         "initech": (AWARE + timedelta(hours=72)).isoformat()}
    assert all(n["sent_at"] is None and not n["overdue"] for n in body["notifications"])
    assert outbox() == []  # recorded, nobody told yet
    assert client.get("/api/v1/notices", headers=bearer(three[0].token)).json == []

    # The clock passes the first two deadlines: they are listed, the third is not.
    clock.travel_to(AWARE + timedelta(hours=50))
    listed = runner.invoke(args=["breaches", "overdue"])
    assert listed.exit_code == 0, listed.output
    assert "acme" in listed.output and "globex" in listed.output and "initech" not in listed.output
    assert "2 overdue notification(s)" in listed.output
    api = client.get("/api/v1/breaches/overdue", headers=dpo).json
    assert [(o["whom"], o["hours_overdue"]) for o in api] == [("acme", 26.0), ("globex", 2.0)]

    # Notifying sends the notice to admins and privacy contacts and records delivery.
    notified = client.post(f"/api/v1/breaches/{body['id']}/notify", headers=dpo, json={})
    assert notified.status_code == 200, notified.json
    detail = {n["tenant"]: n for n in client.get(f"/api/v1/breaches/{body['id']}", headers=dpo).json["notifications"]}
    assert all(n["recipients"] == 2 and n["delivered_at"] for n in detail.values())
    assert detail["acme"]["late"] and not detail["initech"]["late"]
    [mail] = mails_to(outbox(), "dpo@acme.example")
    text = mail.get_content()
    assert "breach" in mail["Subject"].lower() and "1200" in text and "publicly readable" in text
    assert "@" not in text  # nobody's address in the notice: no data subject's, no staff's
    assert client.get("/api/v1/breaches/overdue", headers=dpo).json == []
    assert "0 overdue notification(s)" in runner.invoke(args=["breaches", "overdue"]).output

    # The tenant sees it and acknowledges; staff see the acknowledgement.
    [notice] = client.get("/api/v1/notices", headers=bearer(three[1].token)).json
    assert notice["kind"] == "breach" and notice["content"]["approx_subjects"] == 1200
    assert not notice["can_object"]
    acknowledged = client.post(f"/api/v1/notices/{notice['id']}/acknowledge", headers=bearer(three[1].token))
    assert acknowledged.status_code == 200 and acknowledged.json["answer"] == "acknowledged"
    objected = client.post(f"/api/v1/notices/{notice['id']}/objection", headers=bearer(three[1].token),
                           json={"reason": "we object"})
    assert objected.status_code == 409 and objected.json["code"] == "not_objectable"
    detail = {n["tenant"]: n for n in client.get(f"/api/v1/breaches/{body['id']}", headers=dpo).json["notifications"]}
    assert detail["globex"]["acknowledged_at"] and detail["acme"]["acknowledged_at"] is None
    session.commit()
    actions = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.tenant_id == three[1].id,
                                                                 AuditEntry.action.like("%.%"))
                              .where(AuditEntry.action.in_(("breach.affected", "breach.notify", "notice.delivered",
                                                            "notice.acknowledge")))).all()
    assert sorted(actions) == ["breach.affected", "breach.notify", "notice.acknowledge", "notice.delivered"]


def test_notify_at_record_time_and_updates_in_phases(client, session, dpo, three, outbox):
    body = record(client, dpo, scope="processor", tenants=["acme", "globex"], notify=True).json
    assert all(n["sent_at"] for n in body["notifications"])
    assert len(outbox()) == 4
    update = client.post(f"/api/v1/breaches/{body['id']}/updates", headers=dpo,
                         json={"summary": "Forensics narrowed it down.", "approx_subjects": 300})
    assert update.status_code == 201, update.json
    assert update.json["approx_subjects"] == 300 and update.json["updates"][0]["phase"] == 2
    notices = client.get("/api/v1/notices", headers=bearer(three[0].token)).json
    assert [(n["phase"], n["title"]) for n in notices] == [(2, "Personal data breach: update 1"),
                                                           (1, "Personal data breach")]
    assert notices[0]["content"]["changes"] == {"approx_subjects": 300}
    assert notices[1]["content"]["approx_subjects"] == 1200  # what the first notice said stays as it was
    assert len([m for m in mails_to(outbox(), "dpo@acme.example") if "update 1" in m["Subject"]]) == 1
    # initech was not affected: nothing for it.
    assert client.get("/api/v1/notices", headers=bearer(three[2].token)).json == []


def test_tenants_whose_data_was_held_in_a_period(client, session, dpo, client_org):
    clock.travel_to(datetime(2025, 6, 1, tzinfo=timezone.utc))
    early = client_org("early")
    clock.travel_to(TODAY)
    client_org("late")
    body = record(client, dpo, scope="processor", held_from="2025-05-01", held_to="2025-12-31").json
    assert [n["tenant"] for n in body["notifications"]] == ["early"]
    assert body["held_from"] == "2025-05-01"
    assert early is not None


def test_a_tenant_with_nobody_to_tell_stays_overdue(client, session, dpo, make_keyed_tenant, outbox):
    make_keyed_tenant("silent", breach_notice="PT24H")
    body = record(client, dpo, scope="processor", tenants=["silent"], notify=True).json
    [n] = client.get(f"/api/v1/breaches/{body['id']}", headers=dpo).json["notifications"]
    assert n["sent_at"] and n["delivered_at"] is None and n["delivery_error"] == "no_recipients"
    clock.travel_to(AWARE + timedelta(hours=25))
    assert [o["whom"] for o in client.get("/api/v1/breaches/overdue", headers=dpo).json] == ["silent"]
    assert outbox() == []
    # Staff reach them by phone and record it: delivered, no longer overdue; then there is nothing left to send.
    again = client.post(f"/api/v1/breaches/{body['id']}/notify", headers=dpo, json={"channel": "other"})
    [n] = again.json["notifications"]
    assert n["channel"] == "other" and n["delivered_at"] and n["delivery_error"] is None and n["late"]
    assert client.get("/api/v1/breaches/overdue", headers=dpo).json == []
    assert client.post(f"/api/v1/breaches/{body['id']}/notify", headers=dpo, json={}).status_code == 409


def test_record_another_way_of_telling(client, session, dpo, three):
    body = record(client, dpo, scope="processor", tenants=["acme"]).json
    told = client.post(f"/api/v1/breaches/{body['id']}/notify", headers=dpo, json={"channel": "other"}).json
    [n] = told["notifications"]
    assert n["channel"] == "other" and n["delivered_at"] == n["sent_at"] and n["recipients"] == 0


def test_controller_breach_runs_the_72_hour_clock_and_keeps_the_art_33_5_record(client, session, dpo, runner):
    body = record(client, dpo, scope="controller").json
    assert body["notifications"] == [] and body["authority_deadline"] == (AWARE + timedelta(hours=72)).isoformat()
    clock.travel_to(AWARE + timedelta(hours=73))
    assert [o["whom"] for o in client.get("/api/v1/breaches/overdue", headers=dpo).json] == ["supervisory authority"]
    assert "supervisory authority" in runner.invoke(args=["breaches", "overdue"]).output
    unreasoned = client.post(f"/api/v1/breaches/{body['id']}/authority", headers=dpo, json={"decision": "not_notify"})
    assert unreasoned.status_code == 400 and "reason" in unreasoned.json["errors"]
    late = client.post(f"/api/v1/breaches/{body['id']}/authority", headers=dpo,
                       json={"decision": "notify", "reference": "ICO-2026-0042"})
    assert late.status_code == 400 and "reason" in late.json["errors"]  # after 72 h: why late
    decided = client.post(f"/api/v1/breaches/{body['id']}/authority", headers=dpo,
                          json={"decision": "notify", "reference": "ICO-2026-0042",
                                "reason": "the affected list took three days to confirm"})
    assert decided.status_code == 200, decided.json
    assert decided.json["authority_decision"] == "notify" and decided.json["authority_reference"] == "ICO-2026-0042"
    assert decided.json["authority_notified_at"] == clock.now().isoformat()
    assert client.get("/api/v1/breaches/overdue", headers=dpo).json == []
    twice = client.post(f"/api/v1/breaches/{body['id']}/authority", headers=dpo,
                        json={"decision": "not_notify", "reason": "x"})
    assert twice.status_code == 409
    subjects = client.post(f"/api/v1/breaches/{body['id']}/subjects", headers=dpo,
                           json={"decision": "not_required", "reason": "data encrypted at rest, key not exposed"})
    assert subjects.status_code == 200 and subjects.json["subjects_decision"] == "not_required"
    session.commit()
    assert session.scalars(sa.select(AuditEntry.action).where(AuditEntry.scope == "controller",
                                                              AuditEntry.action.like("breach.%"))
                           .order_by(AuditEntry.seq)).all() == ["breach.record", "breach.authority", "breach.subjects"]


def test_a_reasoned_decision_not_to_notify_is_the_art_33_5_record(client, dpo):
    body = record(client, dpo, scope="controller").json
    decided = client.post(f"/api/v1/breaches/{body['id']}/authority", headers=dpo,
                          json={"decision": "not_notify", "reason": "Encrypted laptop, key not compromised."})
    assert decided.json["authority_decision"] == "not_notify"
    assert decided.json["authority_reason"] == "Encrypted laptop, key not compromised."
    assert decided.json["authority_notified_at"] is None


def test_the_scheduler_warns_once_before_and_once_after_a_deadline(client, session, dpo, three, make_staff, outbox):
    make_staff("dpo", email="privacy-office@vendor.example")
    session.commit()
    record(client, dpo, scope="processor", tenants=["acme"])  # due AWARE + 24 h: warned from AWARE + 12 h
    clock.travel_to(AWARE + timedelta(hours=11))
    assert sweep()["notices"]["deadlines_near"] == 0
    clock.travel_to(AWARE + timedelta(hours=13))
    assert sweep()["notices"]["deadlines_near"] == 1
    assert sweep()["notices"]["deadlines_near"] == 0
    clock.travel_to(AWARE + timedelta(hours=25))
    report = sweep()["notices"]
    assert report["deadlines_passed"] == 1 and sweep()["notices"]["deadlines_passed"] == 0
    warnings = mails_to(outbox(), "privacy-office@vendor.example")
    assert [m["Subject"] for m in warnings] == ["Breach deadlines: 0 overdue, 1 due soon",
                                                "Breach deadlines: 1 overdue, 0 due soon"]
    assert "acme" in warnings[1].get_content()


@pytest.mark.parametrize("fields,field", [
    ({"scope": "processor"}, "tenants"),
    ({"scope": "processor", "tenants": ["nope"]}, "tenants"),
    ({"scope": "controller", "tenants": ["acme"]}, "tenants"),
    ({"scope": "processor", "tenants": ["acme"], "aware_at": "2999-01-01T00:00:00Z"}, "aware_at"),
    ({"scope": "processor", "tenants": ["acme"], "occurred_at": (AWARE + timedelta(hours=1)).isoformat()},
     "occurred_at"),
    ({"scope": "processor", "tenants": ["acme"], "nature": "john.smith@acme.example's mailbox was read"}, "nature"),
    ({"scope": "processor", "tenants": ["acme"], "subject_categories": ["ceo@acme.example"]}, "subject_categories"),
    ({"scope": "processor", "tenants": ["acme"], "approx_subjects": -1}, "approx_subjects"),
    ({"scope": "elsewhere"}, "scope"),
    ({"scope": "processor", "held_from": "2026-02-01", "held_to": "2026-01-01"}, "held_from"),
])
def test_bad_input_is_a_400_naming_the_field(client, session, dpo, three, fields, field):
    response = record(client, dpo, **fields)
    assert response.status_code == 400, response.json
    assert field in response.json["errors"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Breach)) == 0


def test_a_tenant_never_sees_another_tenants_breach_notice(client, session, dpo, three):
    acme, globex, _ = three
    body = record(client, dpo, scope="processor", tenants=["globex"], notify=True).json
    [theirs] = client.get("/api/v1/notices", headers=bearer(globex.token)).json
    assert client.get("/api/v1/notices", headers=bearer(acme.token)).json == []
    assert client.get(f"/api/v1/notices/{theirs['id']}", headers=bearer(acme.token)).status_code == 404
    assert client.post(f"/api/v1/notices/{theirs['id']}/acknowledge", headers=bearer(acme.token)).status_code == 404
    # Nor the register: tenant tokens are not staff.
    assert client.get(f"/api/v1/breaches/{body['id']}", headers=bearer(acme.token)).status_code == 403
    assert client.get("/api/v1/breaches", headers=bearer(acme.token)).status_code == 403
    # A breach notice not yet sent is not the tenant's to see either.
    pending = record(client, dpo, scope="processor", tenants=["acme"]).json["notifications"][0]["notice_id"]
    assert client.get(f"/api/v1/notices/{pending}", headers=bearer(acme.token)).status_code == 404
    session.expire_all()
    assert session.scalar(sa.select(Notice.answer).where(Notice.id == uuid.UUID(theirs["id"]))) is None


@pytest.mark.parametrize("role,read,write", [("support", 403, 403), ("account_manager", 200, 403),
                                             ("dpo", 200, 201), ("admin", 200, 201)])
def test_roles(client, staff_headers, three, role, read, write):
    headers = staff_headers(role)
    assert client.get("/api/v1/breaches", headers=headers).status_code == read
    assert record(client, headers, scope="controller").status_code == write


def test_cli_records_from_a_json_file(runner, session, three, tmp_path):
    body = tmp_path / "incident.json"
    body.write_text(__import__("json").dumps({**INCIDENT, "scope": "processor", "tenants": ["acme", "globex"]}))
    result = runner.invoke(args=["breaches", "record", str(body)])
    assert result.exit_code == 0, result.output
    assert "acme" in result.output and (AWARE + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M") in result.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"scope": "processor"}')
    refused = runner.invoke(args=["breaches", "record", str(bad)])
    assert refused.exit_code == 1 and "occurred_at" in refused.output
    assert date(2026, 3, 2) == TODAY.date()
