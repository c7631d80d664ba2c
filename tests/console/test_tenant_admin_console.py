"""The tenant admin console as Okta's or Entra's admins would expect it: search and filters, pagination past
the end, refusals inline and refused actions not offered, confirmations, CSV import, their audit page."""
import csv
import io

from privacy_saas.audit.models import AuditEntry
from privacy_saas.extensions import db
from privacy_saas.lifecycle import service as lifecycle
from privacy_saas.processor.users import service
from privacy_saas.processor.users.search import search
from tests.console.test_tenant_views import T, post
from tests.helpers import form_token


def test_search_by_part_of_a_name_or_address_and_filters(admin_client, org, other_org, make_user):
    make_user(org, "ada@example.com", display_name="Ada Lovelace", role="admin")
    make_user(org, "grace@navy.example", display_name="Grace Hopper")
    lin = make_user(org, "lin@example.com", display_name="Lin Lovelace")
    service.disable(org, lin, actor=("test", None))
    db.session.commit()
    make_user(other_org, "ada.other@example.com", display_name="Ada Lovelace")
    html = admin_client.get(f"{T}/users?q=lovelace").get_data(as_text=True)
    assert "ada@example.com" in html and "lin@example.com" in html and "grace@navy.example" not in html
    assert "ada.other@example.com" not in html and "(2 matching)" in html
    html = admin_client.get(f"{T}/users?q=NAVY").get_data(as_text=True)
    assert "Grace Hopper" in html and "(1 matching)" in html
    html = admin_client.get(f"{T}/users?q=lovelace&status=active").get_data(as_text=True)
    assert "ada@example.com" in html and "lin@example.com" not in html
    html = admin_client.get(f"{T}/users?role=admin").get_data(as_text=True)
    assert "ada@example.com" in html and "grace@navy.example" not in html
    assert 'value="lovelace"' in admin_client.get(f"{T}/users?q=lovelace").get_data(as_text=True)  # kept
    # The service: a full address by its blind index, pages of matches, nothing of another tenant.
    assert [u.email for u in search(org, "GRACE@navy.example")[0]] == ["grace@navy.example"]
    page, total = search(org, "example", page_number=2, page_size=2)
    assert total == 4 and len(page) == 2  # ada, lin, admin@acme.example (org_admin) and grace's navy.example


def test_a_page_past_the_end_says_so(admin_client, org, make_user):
    html = admin_client.get(f"{T}/users?page=99999").get_data(as_text=True)
    assert "Page 99999 is past the end: there is 1 page of 1 user." in html and "No users yet" not in html
    assert f'href="{T}/users?page=1' in html


def test_last_admin_actions_are_not_offered_and_refusals_show_inline(admin_client, org, org_admin, make_user):
    make_user(org, "m@example.com")
    html = admin_client.get(f"{T}/users").get_data(as_text=True)
    assert "the only active admin: add another admin first" in html
    assert f"{T}/users/{org_admin.id}/remove" not in html and f"{T}/users/{org_admin.id}/disable" not in html
    # Forced anyway (a stale page): refused on the page it came from, with the tenant's navigation.
    for url, data, page in ((f"{T}/users/{org_admin.id}/role", {"role": "member"}, f"{T}/users"),
                            (f"{T}/users/{org_admin.id}/disable", None, f"{T}/users/{org_admin.id}/disable"),
                            (f"{T}/users/{org_admin.id}/remove", None, f"{T}/users/{org_admin.id}/remove")):
        response = post(admin_client, url, data, page=page)
        text = response.get_data(as_text=True)
        assert response.status_code == 409 and "last active admin" in text and 'role="alert"' in text
        assert f'href="{T}/audit"' in text and 'href="/console/rights/"' not in text  # tenant nav, not staff
    assert service.get(org, org_admin.id).role == "admin"


def test_disable_is_confirmed_first(admin_client, org, make_user):
    user = make_user(org, "m@example.com", display_name="Mo")
    html = admin_client.get(f"{T}/users").get_data(as_text=True)
    assert f'href="{T}/users/{user.id}/disable"' in html
    confirm = admin_client.get(f"{T}/users/{user.id}/disable").get_data(as_text=True)
    assert "Disable Mo &lt;m@example.com&gt;?" in confirm and service.get(org, user.id).status == "active"
    assert post(admin_client, f"{T}/users/{user.id}/disable", page=f"{T}/users/{user.id}/disable").status_code == 302
    assert service.get(org, user.id).status == "disabled"


def test_an_ended_tenant_offers_no_changes(admin_client, org, make_user):
    user = make_user(org, "m@example.com")
    lifecycle.end_contract(org)
    db.session.commit()
    html = admin_client.get(f"{T}/users").get_data(as_text=True)
    assert "read-only (contract ended)" in html
    for absent in ("Add user", "Import CSV", f"{T}/users/{user.id}/remove", f"{T}/users/{user.id}/role"):
        assert absent not in html
    refused = post(admin_client, f"{T}/users/{user.id}/disable", page=f"{T}/users/{user.id}/disable")
    assert refused.status_code == 403 and "can be read and exported, not changed" in refused.get_data(as_text=True)


def test_error_pages_keep_the_tenant_navigation(admin_client):
    missing = admin_client.get(f"{T}/users/not-a-uuid/remove")
    text = missing.get_data(as_text=True)
    assert missing.status_code == 404 and f'href="{T}/users"' in text and "Back to your console" in text
    assert 'href="/console/rights/"' not in text


def test_csv_import_reports_each_line_and_hands_back_the_rejects(admin_client, org, make_user):
    make_user(org, "known@example.com")
    body = ("email,name,role\nnew.one@example.com,New One,member\nnot-an-address,Bad,member\n"
            "known@example.com,Known,member\nboss@example.com,Boss,owner\n=cmd-at-example.com,=HYPERLINK(),member\n")
    page = admin_client.get(f"{T}/users/import").get_data(as_text=True)
    response = admin_client.post(f"{T}/users/import", data={
        "csrf_token": form_token(admin_client, f"{T}/users/import"),
        "file": (io.BytesIO(body.encode()), "users.csv")}, content_type="multipart/form-data")
    text = response.get_data(as_text=True)
    assert "Import CSV" in admin_client.get(f"{T}/users").get_data(as_text=True) and 'type="file"' in page
    assert response.status_code == 200, text
    assert "<strong>1</strong> added" in text and "<strong>1</strong> already there" in text
    assert "<strong>3</strong> rejected" in text
    db.session.expire_all()
    assert service.find_by_email(org, "new.one@example.com") is not None
    assert service.find_by_email(org, "boss@example.com") is None
    rejects = admin_client.post(f"{T}/users/import/rejects.csv", data={
        "csrf_token": form_token(admin_client, f"{T}/users/import"),
        "rejects": _hidden(text, "rejects")})
    assert rejects.status_code == 200 and rejects.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(rejects.get_data(as_text=True))))
    assert rows[0] == ["line", "email", "name", "role", "error"]
    assert [r[0] for r in rows[1:]] == ["3", "5", "6"]
    assert rows[2][1:4] == ["boss@example.com", "Boss", "owner"] and "role" in rows[2][4]
    assert rows[3][2] == "'=HYPERLINK()"  # neutralised: no formula runs when a spreadsheet opens it
    entry = db.session.query(AuditEntry).filter_by(action="user.import", tenant_id=org.id).one()
    assert entry.detail == {"created": 1, "unchanged": 1, "rejected": 3}


def test_csv_import_refuses_a_non_utf8_file_on_its_page(admin_client):
    response = admin_client.post(f"{T}/users/import", data={
        "csrf_token": form_token(admin_client, f"{T}/users/import"),
        "file": (io.BytesIO("é,x,member\n".encode("latin-1")), "users.csv")}, content_type="multipart/form-data")
    assert response.status_code == 400 and "not UTF-8" in response.get_data(as_text=True)


def test_the_tenant_audit_page_shows_its_own_chain_with_filters_and_csv(admin_client, org, other_org, make_user):
    make_user(org, "m@example.com")
    make_user(other_org, "x@example.com")
    user = make_user(org, "d@example.com")
    post(admin_client, f"{T}/users/{user.id}/disable", page=f"{T}/users/{user.id}/disable")
    html = admin_client.get(f"{T}/audit").get_data(as_text=True)
    assert "user.update" in html and "user.login" in html
    assert str(other_org.id) not in html and "x@example.com" not in html
    assert "admin@acme.example" in html  # the acting admin by name, not an id
    only = admin_client.get(f"{T}/audit?action=user.login").get_data(as_text=True)
    assert "user.login" in only and "user.update" not in only
    bad = admin_client.get(f"{T}/audit?since=yesterday")
    assert bad.status_code == 400 and "is not a date" in bad.get_data(as_text=True)
    exported = admin_client.get(f"{T}/audit.csv?action=user.")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][0] == "at" and rows[1:] and all(r[5].startswith("user.") for r in rows[1:])
    assert all(r[6] == str(org.id) for r in rows[1:])


def _hidden(html: str, name: str) -> str:
    import html as html_lib
    import re

    return html_lib.unescape(re.search(rf'name="{name}" value="([^"]*)"', html, re.S).group(1))
