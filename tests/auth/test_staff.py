"""Staff accounts: CLI creation, API tokens, lockout, password hashing."""
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.auth import service, tokens
from privacy_saas.auth.models import Staff
from privacy_saas.auth.passwords import verify_password
from tests.helpers import bearer

PASSWORD = "a long enough passphrase"


def create(runner, email, role="support", password=PASSWORD):
    return runner.invoke(args=["staff", "create", email, "--role", role, "--password-stdin"],
                         input=password + "\n")


def staff_count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Staff))


# --- staff create --------------------------------------------------------------------------

def test_create_reads_the_password_from_stdin(runner, session):
    result = create(runner, "Ops.Lead@Vendor.example", role="dpo")
    assert result.exit_code == 0, result.output
    assert "created staff ops.lead@vendor.example (dpo)" in result.output
    assert PASSWORD not in result.output
    staff = service.find_staff("ops.lead@vendor.example")
    assert staff is not None and staff.role == "dpo" and staff.active
    assert service.authenticate("ops.lead@vendor.example", PASSWORD) == staff
    assert service.authenticate("ops.lead@vendor.example", PASSWORD + "x") is None


def test_short_password_is_refused(runner, session):
    result = create(runner, "short@vendor.example", password="elevenchars")
    assert result.exit_code == 1
    assert "password must have at least 12 characters" in result.output
    assert service.find_staff("short@vendor.example") is None


def test_twelve_character_password_is_enough(runner, session):
    assert create(runner, "twelve@vendor.example", password="twelve chars").exit_code == 0


def test_duplicate_email_is_refused_whatever_its_case(runner, session):
    assert create(runner, "dup@vendor.example").exit_code == 0
    for email in ("dup@vendor.example", "DUP@Vendor.Example"):
        result = create(runner, email, role="admin")
        assert result.exit_code == 1
        assert "a staff member with this e-mail exists" in result.output
    assert staff_count(session) == 1
    assert service.find_staff("dup@vendor.example").role == "support"


def test_unknown_role_is_refused_by_the_command_line(runner, session):
    result = create(runner, "root@vendor.example", role="root")
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert staff_count(session) == 0


def test_password_is_stored_as_an_argon2id_hash(make_staff):
    staff, password = make_staff("support")
    assert staff.password_hash.startswith("$argon2id$")
    assert password not in staff.password_hash
    assert verify_password(staff.password_hash, password)
    other, _ = make_staff("support")
    # Salted: the same password never gives the same hash.
    assert other.password_hash != staff.password_hash


# --- tokens and the tenants API ------------------------------------------------------------

def test_cli_token_authenticates_the_tenants_api(runner, client, session, make_staff, make_tenant):
    staff, _ = make_staff("support", email="support@vendor.example")
    clock.travel_to(date(2026, 11, 23))
    make_tenant("acme", name="Acme Ltd", contract_end=date(2027, 12, 31), end_action="return_then_delete")
    globex = make_tenant("globex", name="Globex Corporation", region="us", contract_start=date(2024, 7, 1),
                         contract_end=date(2026, 6, 30))
    globex.end_contract()
    session.commit()

    result = runner.invoke(args=["staff", "token", "support@vendor.example", "--name", "laptop"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("pst_")

    response = client.get("/api/v1/tenants", headers=bearer(token))
    assert response.status_code == 200, response.json
    body = response.json
    assert [t["slug"] for t in body] == ["acme", "globex"]
    acme, globex_json = body
    assert acme["status"] == "active"
    assert acme["contract"] == {"start": "2025-01-01", "end": "2027-12-31", "retain_after_end": "P12M",
                                "end_action": "return_then_delete"}
    assert acme["purge_due_on"] == "2029-01-01"
    assert globex_json["status"] == "ended"
    assert globex_json["contract"]["end"] == "2026-06-30"
    assert globex_json["purge_due_on"] == "2027-07-01"

    ended = client.get("/api/v1/tenants?status=ended", headers=bearer(token))
    assert [t["slug"] for t in ended.json] == ["globex"]

    one = client.get("/api/v1/tenants/acme", headers=bearer(token))
    assert one.status_code == 200
    assert one.json["name"] == "Acme Ltd"


def test_token_for_unknown_staff_is_refused(runner, session):
    result = runner.invoke(args=["staff", "token", "nobody@vendor.example"])
    assert result.exit_code == 1
    assert "no staff member nobody@vendor.example" in result.output


def test_revoked_token_is_401(client, session, staff, staff_token):
    session.commit()
    assert client.get("/api/v1/tenants", headers=bearer(staff_token)).status_code == 200
    tokens.revoke(tokens.resolve(staff_token))
    session.commit()
    response = client.get("/api/v1/tenants", headers=bearer(staff_token))
    assert response.status_code == 401
    assert response.json["code"] == "invalid_token"


def test_token_with_a_wrong_secret_is_401(client, session, staff_token):
    session.commit()
    forged = staff_token[:-4] + ("AAAA" if not staff_token.endswith("AAAA") else "BBBB")
    assert client.get("/api/v1/tenants", headers=bearer(forged)).status_code == 401


def test_token_of_a_disabled_staff_member_is_401(client, session, staff, staff_token):
    staff.active = False
    session.commit()
    response = client.get("/api/v1/tenants", headers=bearer(staff_token))
    assert response.status_code == 401


def test_unknown_tenant_slug_is_a_json_404(client, session, staff_token):
    session.commit()
    response = client.get("/api/v1/tenants/no-such-tenant", headers=bearer(staff_token))
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.json == {"status": 404, "code": "not_found", "message": "no tenant 'no-such-tenant'"}


# --- lockout -------------------------------------------------------------------------------

def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(make_staff):
    staff, password = make_staff("admin", email="target@vendor.example")
    clock.travel_to(datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc))
    for _ in range(5):
        assert service.authenticate("target@vendor.example", "wrong password!") is None
    assert staff.locked_until == datetime(2026, 11, 23, 10, 15, tzinfo=timezone.utc)

    assert service.authenticate("target@vendor.example", password) is None
    clock.advance(timedelta(minutes=14, seconds=59))
    assert service.authenticate("target@vendor.example", password) is None
    clock.advance(timedelta(seconds=1))
    assert service.authenticate("target@vendor.example", password) == staff
    assert staff.locked_until is None
    assert staff.failed_logins == 0
    assert staff.last_login_at == datetime(2026, 11, 23, 10, 15, tzinfo=timezone.utc)


def test_four_wrong_passwords_do_not_lock_and_success_resets_the_count(make_staff):
    staff, password = make_staff("admin", email="typo@vendor.example")
    for _ in range(4):
        assert service.authenticate("typo@vendor.example", "wrong password!") is None
    assert staff.failed_logins == 4
    assert service.authenticate("typo@vendor.example", password) == staff
    assert staff.failed_logins == 0
    # The count starts again: four more failures still do not lock.
    for _ in range(4):
        service.authenticate("typo@vendor.example", "wrong password!")
    assert staff.locked_until is None
    assert service.authenticate("typo@vendor.example", password) == staff


def test_disabled_or_unknown_staff_cannot_authenticate(make_staff):
    staff, password = make_staff("admin", email="gone@vendor.example")
    staff.active = False
    assert service.authenticate("gone@vendor.example", password) is None
    assert service.authenticate("nobody@vendor.example", password) is None
