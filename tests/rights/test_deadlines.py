"""Deadlines: one month from receipt, one extension of up to two months, overdue lists."""
from __future__ import annotations

from datetime import datetime, timezone

from privacy_saas import clock
from tests.rights.conftest import EMAIL


def _at(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_due_one_month_after_receipt_month_end_clamped(client, world, role_headers):
    dpo = role_headers("dpo")
    clock.travel_to(_at(2027, 1, 31, 9, 30))
    body = client.post("/api/v1/dsr", json={"kind": "access", "email": EMAIL}, headers=dpo).json
    assert body["received_at"].startswith("2027-01-31T09:30")
    assert body["due_at"].startswith("2027-02-28T09:30")


def test_extension_once_up_to_two_months_with_reason(client, world, role_headers):
    dpo = role_headers("dpo")
    clock.travel_to(_at(2027, 3, 10, 12))
    request_id = client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=dpo).json["id"]
    url = f"/api/v1/dsr/{request_id}/extend"
    assert client.post(url, json={"months": 3, "reason": "complex"}, headers=dpo).status_code == 400
    assert client.post(url, json={"months": 2}, headers=dpo).status_code == 400
    assert client.post(url, json={"months": 2, "reason": "x"}, headers=role_headers("support")).status_code == 403
    extended = client.post(url, json={"months": 2, "reason": "many systems to search"}, headers=dpo)
    assert extended.status_code == 200
    assert extended.json["due_at"].startswith("2027-06-10T12:00") and extended.json["extended_months"] == 2
    again = client.post(url, json={"months": 1, "reason": "more"}, headers=dpo)
    assert again.status_code == 409 and again.json["code"] == "already_extended"


def test_overdue_api_cli_and_dashboard(client, world, role_headers, runner, console_login):
    dpo = role_headers("dpo")
    clock.travel_to(_at(2027, 1, 1, 8))
    late = client.post("/api/v1/dsr", json={"kind": "erase", "email": EMAIL}, headers=dpo).json["id"]
    clock.travel_to(_at(2027, 1, 20, 8))
    soon = client.post("/api/v1/dsr", json={"kind": "access", "email": "nobody@nowhere.org"}, headers=dpo).json
    assert soon["status"] == "open"
    clock.travel_to(_at(2027, 2, 1, 7, 59))
    assert client.get("/api/v1/dsr?overdue=true", headers=dpo).json == []
    clock.travel_to(_at(2027, 2, 15, 8))
    overdue = client.get("/api/v1/dsr?overdue=true", headers=dpo).json
    assert [r["id"] for r in overdue] == [late] and overdue[0]["overdue"] is True
    result = runner.invoke(args=["dsr", "overdue"])
    assert result.exit_code == 0
    assert late in result.output and soon["id"] not in result.output and "1 overdue requests" in result.output
    assert "grace" not in result.output.lower()

    console_login("support")
    page = client.get("/console/rights/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    overdue_part, rest = html.split('id="due-soon"')
    assert late in overdue_part and soon["id"] in rest and "grace" not in html.lower()


def test_dashboard_requires_staff(client, world):
    assert client.get("/console/rights/").status_code == 302
