"""Staff record a data-subject request from the console."""
from tests.helpers import csrf_token


def test_support_records_a_request_and_sees_its_routing(client, session, console_login):
    console_login("support")
    page = client.get("/console/rights/").get_data(as_text=True)
    response = client.post("/console/rights/new", data={
        "csrf_token": csrf_token(page), "kind": "access", "email": "nobody@example.com", "channel": "email"})
    assert response.status_code == 302 and "/console/rights/" in response.headers["Location"]
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Access request" in detail and "nobody@example.com" not in detail  # the staff view shows no subject data
    bad = client.post("/console/rights/new", data={"csrf_token": csrf_token(page), "kind": "access",
                                                   "email": "not-an-email", "channel": "email"})
    # Refused on the same page, with what was typed kept.
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "email:" in text and 'value="not-an-email"' in text
