"""Declarative tenant files: `tenants plan` and `tenants apply`."""
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.processor.tenants.files import load_dir
from privacy_saas.processor.tenants.models import Tenant

SHIPPED = Path(__file__).resolve().parents[3] / "tenants"
TODAY = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)

ACME = """\
slug = "acme"
name = "Acme Ltd"
region = "eu"

[contract]
start = 2025-01-01
end = {end}
end_action = "return_then_delete"

[policy]
self_service_deletion = false
usage_retention = "P24M"

[[admins]]
email = "it-admin@acme.example"
name = "Ada Admin"
"""

GLOBEX = """\
slug = "globex"
name = "Globex Corporation"
region = "us"

[contract]
start = 2024-07-01
end = {end}
retain_after_end = "P12M"
end_action = "delete"
"""


@pytest.fixture(autouse=True)
def _today():
    clock.travel_to(TODAY)


@pytest.fixture
def tenants_dir(tmp_path):
    directory = tmp_path / "tenants"
    directory.mkdir()
    return directory


def write(directory: Path, slug: str, text: str) -> Path:
    path = directory / f"{slug}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def plan(runner, directory):
    return runner.invoke(args=["tenants", "plan", str(directory)])


def apply(runner, directory):
    return runner.invoke(args=["tenants", "apply", str(directory), "--yes"])


def count(session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Tenant))


def get(session, slug: str) -> Tenant:
    session.expire_all()
    return session.scalar(sa.select(Tenant).where(Tenant.slug == slug))


def lines(result) -> list[str]:
    return [line.split() for line in result.output.splitlines()]


# --- plan and apply ------------------------------------------------------------------------

def test_plan_lists_creations_and_writes_nothing(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    write(tenants_dir, "globex", GLOBEX.format(end="2027-06-30"))
    result = plan(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    assert lines(result) == [["create", "acme"], ["create", "globex"]]
    assert count(session) == 0


def test_apply_creates_the_tenants(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    assert ["create", "acme"] in lines(result)
    assert result.output.rstrip().endswith("applied")
    tenant = get(session, "acme")
    assert (tenant.name, tenant.region, tenant.status) == ("Acme Ltd", "eu", "active")
    assert (tenant.contract_start, tenant.contract_end) == (date(2025, 1, 1), date(2027, 12, 31))
    assert tenant.retain_after_end == "P12M"  # the default when the file says nothing
    assert tenant.end_action == "return_then_delete"
    assert tenant.self_service_deletion is False
    assert tenant.usage_retention == "P24M"
    assert tenant.ended_at is None


def test_second_apply_has_nothing_to_apply(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    before = get(session, "acme").updated_at
    clock.advance(timedelta(hours=1))
    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    assert ["unchanged", "acme"] in lines(result)
    assert "nothing to apply" in result.output
    assert "applied\n" not in result.output.replace("nothing to apply\n", "")
    assert count(session) == 1
    assert get(session, "acme").updated_at == before


def test_changed_contract_end_is_planned_then_applied(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    created = get(session, "acme").updated_at
    write(tenants_dir, "acme", ACME.format(end="2028-06-30"))
    clock.advance(timedelta(hours=1))

    planned = plan(runner, tenants_dir)
    assert planned.exit_code == 0, planned.output
    assert "update contract" in planned.output
    assert "contract_end: 2027-12-31 -> 2028-06-30" in planned.output
    assert get(session, "acme").contract_end == date(2027, 12, 31)

    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    assert "contract_end: 2027-12-31 -> 2028-06-30" in result.output
    tenant = get(session, "acme")
    assert tenant.contract_end == date(2028, 6, 30)
    assert tenant.status == "active"
    assert tenant.updated_at == TODAY + timedelta(hours=1) != created


def test_contract_end_moved_into_the_past_ends_the_tenant(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    write(tenants_dir, "acme", ACME.format(end="2026-10-31"))
    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    assert "status: active -> ended" in result.output
    tenant = get(session, "acme")
    assert (tenant.status, tenant.contract_end, tenant.ended_at) == ("ended", date(2026, 10, 31), TODAY)
    assert tenant.purge_due_on == date(2027, 11, 1)


def test_tenant_without_a_file_is_reported_orphaned_and_kept(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    globex = write(tenants_dir, "globex", GLOBEX.format(end="2027-06-30"))
    assert apply(runner, tenants_dir).exit_code == 0
    globex.unlink()

    planned = plan(runner, tenants_dir)
    assert planned.exit_code == 0, planned.output
    orphaned = [line for line in planned.output.splitlines() if line.startswith("orphaned")]
    assert len(orphaned) == 1 and "globex" in orphaned[0]

    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    assert "nothing to apply" in result.output
    assert get(session, "globex").status == "active"
    assert count(session) == 2


def test_plan_asks_as_many_queries_over_twelve_files_as_over_three(runner, session, tenants_dir):
    """Each file's admins are looked up in bulk: the queries do not grow with the tenants."""
    from tests.helpers import statements

    def add(first, last):
        for n in range(first, last):
            write(tenants_dir, f"t{n}", ACME.replace('slug = "acme"', f'slug = "t{n}"').format(end="2027-12-31"))
        assert apply(runner, tenants_dir).exit_code == 0

    def queries():
        with statements(session) as seen:
            result = plan(runner, tenants_dir)
        assert result.exit_code == 0, result.output
        assert {words[0] for words in lines(result)} == {"unchanged"}
        return len(seen)

    add(0, 3)
    few = queries()
    add(3, 12)
    assert queries() == few


def test_one_file_loads_its_tenant_only_and_apply_leaves_the_others_unread(runner, session, tenants_dir):
    """Applying one new file beside thousands of tenants must not load them all."""
    from privacy_saas.processor.tenants import service

    for n in range(5):
        write(tenants_dir, f"t{n}", GLOBEX.replace('slug = "globex"', f'slug = "t{n}"').format(end="2027-06-30"))
    assert apply(runner, tenants_dir).exit_code == 0
    session.expunge_all()
    [spec] = [spec for spec in load_dir(tenants_dir)[0] if spec.slug == "t3"]
    loaded = []

    def record(tenant, _context):
        loaded.append(tenant.slug)

    sa.event.listen(Tenant, "load", record)
    try:
        changes = service.plan([spec])
    finally:
        sa.event.remove(Tenant, "load", record)
    assert [c.action for c in changes] == ["unchanged"] + ["orphaned"] * 4
    assert [c.slug for c in changes[1:]] == ["t0", "t1", "t2", "t4"]
    assert loaded == ["t3"]
    # Applying one new file neither loads nor lists the others (apply leaves them alone).
    write(tenants_dir, "t9", GLOBEX.replace('slug = "globex"', 'slug = "t9"').format(end="2027-06-30"))
    [new] = [spec for spec in load_dir(tenants_dir)[0] if spec.slug == "t9"]
    loaded.clear()
    sa.event.listen(Tenant, "load", record)
    try:
        assert [(c.slug, c.action) for c in service.apply([new])] == [("t9", "create")]
    finally:
        sa.event.remove(Tenant, "load", record)
    assert loaded == [] and count(session) == 6


def test_contract_already_ended_is_created_as_ended(runner, session, tenants_dir):
    write(tenants_dir, "globex", GLOBEX.format(end="2026-06-30"))
    planned = plan(runner, tenants_dir)
    assert "create" in planned.output and "(contract already ended)" in planned.output
    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    tenant = get(session, "globex")
    assert tenant.status == "ended"
    assert tenant.contract_end == date(2026, 6, 30)
    assert tenant.ended_at == TODAY
    assert tenant.purge_due_on == date(2027, 7, 1)


def test_ended_contract_extended_into_the_future_is_reinstated(runner, session, tenants_dir):
    write(tenants_dir, "globex", GLOBEX.format(end="2026-06-30"))
    assert apply(runner, tenants_dir).exit_code == 0
    assert get(session, "globex").status == "ended"
    write(tenants_dir, "globex", GLOBEX.format(end="2027-06-30"))

    planned = plan(runner, tenants_dir)
    assert "status: ended -> active" in planned.output
    assert get(session, "globex").status == "ended"

    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    tenant = get(session, "globex")
    assert (tenant.status, tenant.contract_end, tenant.ended_at) == ("active", date(2027, 6, 30), None)


def test_purged_tenant_is_locked_against_file_changes(runner, session, tenants_dir):
    write(tenants_dir, "globex", GLOBEX.format(end="2026-06-30"))
    assert apply(runner, tenants_dir).exit_code == 0
    tenant = get(session, "globex")
    tenant.start_purge()
    tenant.finish_purge()
    session.commit()
    write(tenants_dir, "globex", GLOBEX.format(end="2030-06-30"))
    result = apply(runner, tenants_dir)
    assert result.exit_code == 0, result.output
    assert "locked" in result.output and "purged" in result.output
    tenant = get(session, "globex")
    assert (tenant.status, tenant.contract_end) == ("purged", date(2026, 6, 30))


def test_apply_without_yes_asks_and_a_no_applies_nothing(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    result = runner.invoke(args=["tenants", "apply", str(tenants_dir)], input="n\n")
    assert result.exit_code == 1
    assert "not applied" in result.output
    assert count(session) == 0


# --- invalid files -------------------------------------------------------------------------

# Ends inside [contract], so a line appended to it lands in the contract table.
BADCO = """\
slug = "badco"
name = "Bad Co"
region = "eu"

[contract]
start = 2025-01-01
end_action = "delete"
"""

BAD_FILES = {
    "unknown top-level key": ('owner = "x"\n' + BADCO, "owner", "Unknown field"),
    "unknown contract key": (BADCO + 'renewal = "auto"\n', "contract.renewal", "Unknown field"),
    "impossible date": (BADCO.replace("start = 2025-01-01", 'start = "2025-13-01"'),
                        "contract.start", "must be a date"),
    "date-time for a date": (BADCO.replace("start = 2025-01-01", "start = 2025-01-01T10:00:00"),
                             "contract.start", "not a date-time"),
    "unknown end_action": (BADCO.replace('"delete"', '"shred"'), "contract.end_action", "Must be one of"),
    "slug not the file name": (BADCO.replace('slug = "badco"', 'slug = "goodco"'), "slug",
                               "does not match the file name"),
    "end before start": (BADCO.replace("start = 2025-01-01", "start = 2025-01-01\nend = 2024-12-31"),
                         "contract.end", "must not be before contract.start"),
    "unknown region": (BADCO.replace('region = "eu"', 'region = "de"'), "region", "Must be one of"),
    "retention not a period": (BADCO + 'retain_after_end = "12 months"\n', "contract.retain_after_end",
                               "not an ISO-8601 period"),
    "toml syntax error": (BADCO.replace('name = "Bad Co"', 'name = "Bad Co'), "(syntax)", "line 2"),
    "string for a boolean": (BADCO + '\n[policy]\nself_service_deletion = "yes"\n',
                             "policy.self_service_deletion", "must be true or false"),
}


@pytest.mark.parametrize("command", ["plan", "apply"])
@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_bad_file_fails_naming_file_and_field_and_applies_nothing(runner, session, tenants_dir, kind,
                                                                  command):
    text, field, message = BAD_FILES[kind]
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    write(tenants_dir, "badco", text)
    args = ["tenants", command, str(tenants_dir)] + (["--yes"] if command == "apply" else [])
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    problems = [line for line in result.output.splitlines() if line.startswith("invalid: ")]
    assert problems, result.output
    assert any(line.startswith(f"invalid: badco.toml: {field}: ") and message in line for line in problems), \
        result.output
    assert not any("acme" in line for line in problems)
    assert "nothing was applied" in result.output
    assert "create" not in result.output
    assert count(session) == 0


def test_bad_file_beside_an_existing_tenant_changes_nothing(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    write(tenants_dir, "acme", ACME.format(end="2030-12-31"))
    write(tenants_dir, "badco", BADCO.replace('region = "eu"', 'region = "mars"'))
    result = apply(runner, tenants_dir)
    assert result.exit_code != 0
    assert count(session) == 1
    assert get(session, "acme").contract_end == date(2027, 12, 31)


def test_missing_directory_is_an_error(runner, session, tmp_path):
    result = plan(runner, tmp_path / "nope")
    assert result.exit_code != 0
    assert "does not exist" in result.output


# --- the shipped examples ------------------------------------------------------------------

def test_shipped_tenant_files_are_valid():
    specs, errors = load_dir(SHIPPED)
    assert errors == []
    assert [spec.slug for spec in specs] == ["acme", "globex", "initech"]
    assert all(spec.admins for spec in specs)


def test_shipped_tenant_files_apply(runner, session):
    result = apply(runner, SHIPPED)
    assert result.exit_code == 0, result.output
    assert count(session) == 3

    acme = get(session, "acme")
    assert (acme.status, acme.region, acme.end_action) == ("active", "eu", "return_then_delete")
    assert acme.contract_end.year == 2027

    globex = get(session, "globex")
    assert (globex.status, globex.end_action) == ("ended", "delete")
    assert globex.contract_end == date(2026, 6, 30)
    assert globex.retain_after_end == "P12M"
    assert globex.purge_due_on == date(2027, 7, 1)
    assert not globex.is_purge_due()  # still within its retention window

    initech = get(session, "initech")
    assert (initech.status, initech.region, initech.end_action) == ("active", "uk", "anonymise")
    assert initech.self_service_deletion is True
    assert (initech.contract_end, initech.purge_due_on) == (None, None)  # open-ended
    assert initech.retain_after_end == "P6M"

    again = apply(runner, SHIPPED)
    assert again.exit_code == 0 and "nothing to apply" in again.output


# --- the files and the console never silently override each other ----------------------------

def _end_in_console(session, slug: str, on=None):
    from privacy_saas.lifecycle import service as lifecycle

    lifecycle.end_contract(get(session, slug), on)
    session.commit()


def test_a_console_ended_tenant_is_drift_and_apply_refuses_to_revert_it(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    _end_in_console(session, "acme")
    planned = plan(runner, tenants_dir)
    assert planned.exit_code == 0, planned.output
    assert ("drift            acme: contract_end was changed in the console or API to 2026-11-23; "
            "the file says 2027-12-31") in planned.output
    assert "update contract" not in planned.output  # the drifted value is not a change the file makes
    refused = apply(runner, tenants_dir)
    assert refused.exit_code == 3
    assert "refused: acme: contract_end" in refused.output and "nothing was applied" in refused.output
    tenant = get(session, "acme")
    assert (tenant.status, tenant.contract_end) == ("ended", date(2026, 11, 23))


def test_accepting_console_changes_keeps_them_and_later_applies_stay_quiet(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    _end_in_console(session, "acme")
    accepted = runner.invoke(args=["tenants", "apply", str(tenants_dir), "--yes", "--accept-console-changes"])
    assert accepted.exit_code == 0, accepted.output
    assert (get(session, "acme").status, get(session, "acme").contract_end) == ("ended", date(2026, 11, 23))
    # The same file again: nothing to say, nothing refused (the operator already chose).
    again = apply(runner, tenants_dir)
    assert again.exit_code == 0 and "drift" not in again.output and "nothing to apply" in again.output
    # Once the file agrees, the file is in charge again.
    write(tenants_dir, "acme", ACME.format(end="2026-11-23"))
    agreed = apply(runner, tenants_dir)
    assert agreed.exit_code == 0 and "drift" not in agreed.output


def test_override_lets_the_file_revert_the_console(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    _end_in_console(session, "acme")
    both = runner.invoke(args=["tenants", "apply", str(tenants_dir), "--yes", "--accept-console-changes",
                               "--override-console-changes"])
    assert both.exit_code != 0 and "exclude each other" in both.output
    result = runner.invoke(args=["tenants", "apply", str(tenants_dir), "--yes", "--override-console-changes"])
    assert result.exit_code == 0, result.output
    tenant = get(session, "acme")
    assert (tenant.status, tenant.contract_end, tenant.ended_at) == ("active", date(2027, 12, 31), None)


def test_a_file_edit_is_not_drift(runner, session, tenants_dir):
    write(tenants_dir, "acme", ACME.format(end="2027-12-31"))
    assert apply(runner, tenants_dir).exit_code == 0
    write(tenants_dir, "acme", ACME.format(end="2028-03-31"))
    result = apply(runner, tenants_dir)
    assert result.exit_code == 0 and "drift" not in result.output
    assert get(session, "acme").contract_end == date(2028, 3, 31)
