"""Tenant state machine, purge dates and ISO-8601 periods."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.errors import InvalidTransition
from privacy_saas.processor.tenants.models import STATUSES, Tenant, parse_period

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)


def tenant_in(status: str, **fields) -> Tenant:
    """Return an unsaved tenant in `status`."""
    values = {"slug": "acme", "name": "Acme Ltd", "region": "eu", "contract_start": date(2025, 1, 1),
              "contract_end": None, "retain_after_end": "P12M", "end_action": "delete"}
    values.update(fields)
    return Tenant(status=status, **values)


# --- valid transitions ---------------------------------------------------------------------

def test_end_contract_of_open_ended_tenant_sets_end_and_ended_at():
    clock.travel_to(NOW)
    tenant = tenant_in("active")
    tenant.end_contract()
    assert tenant.status == "ended"
    assert tenant.contract_end == date(2026, 11, 23)
    assert tenant.ended_at == NOW


def test_end_contract_early_moves_the_contract_end_forward():
    clock.travel_to(NOW)
    tenant = tenant_in("active", contract_end=date(2027, 12, 31))
    tenant.end_contract(date(2026, 11, 1))
    assert tenant.status == "ended"
    assert tenant.contract_end == date(2026, 11, 1)
    assert tenant.ended_at == NOW


def test_end_contract_after_the_end_date_keeps_the_agreed_end():
    # The scheduler notices an ended contract some days late: the contract end is the agreed one.
    clock.travel_to(NOW)
    tenant = tenant_in("active", contract_end=date(2026, 6, 30))
    tenant.end_contract()
    assert tenant.contract_end == date(2026, 6, 30)
    assert tenant.status == "ended"


def test_end_contract_before_it_starts_is_refused():
    tenant = tenant_in("active", contract_start=date(2026, 1, 1))
    with pytest.raises(InvalidTransition):
        tenant.end_contract(date(2025, 12, 31))
    assert tenant.status == "active"
    assert tenant.contract_end is None
    assert tenant.ended_at is None


def test_purge_runs_from_ended_through_purging_to_purged():
    clock.travel_to(NOW)
    tenant = tenant_in("active", contract_end=date(2026, 6, 30))
    tenant.end_contract()
    clock.advance(timedelta(days=1))
    tenant.start_purge()
    assert tenant.status == "purging"
    assert tenant.purge_started_at == NOW + timedelta(days=1)
    assert tenant.purged_at is None
    clock.advance(timedelta(hours=2))
    tenant.finish_purge()
    assert tenant.status == "purged"
    assert tenant.purged_at == NOW + timedelta(days=1, hours=2)


def test_reinstate_returns_an_ended_tenant_to_active():
    clock.travel_to(NOW)
    tenant = tenant_in("active")
    tenant.end_contract()
    tenant.reinstate()
    assert tenant.status == "active"
    assert tenant.ended_at is None


def test_transitions_survive_a_round_trip_through_the_database(session, make_tenant):
    clock.travel_to(NOW)
    tenant = make_tenant("globex", contract_end=date(2026, 6, 30))
    tenant.end_contract()
    session.flush()
    session.expire_all()
    stored = session.scalar(sa.select(Tenant).where(Tenant.slug == "globex"))
    assert stored.status == "ended"
    assert stored.ended_at == NOW
    assert stored.ended_at.tzinfo is not None
    assert stored.purge_due_on == date(2027, 7, 1)


# --- invalid transitions -------------------------------------------------------------------

VALID = {("active", "end_contract"), ("ended", "reinstate"), ("ended", "start_purge"),
         ("purging", "finish_purge")}
INVALID = [(status, method) for status in STATUSES
           for method in ("end_contract", "reinstate", "start_purge", "finish_purge")
           if (status, method) not in VALID]


@pytest.mark.parametrize(("status", "method"), INVALID)
def test_invalid_transition_raises_and_changes_nothing(status, method):
    clock.travel_to(NOW)
    tenant = tenant_in(status, contract_end=date(2026, 6, 30))
    with pytest.raises(InvalidTransition) as excinfo:
        getattr(tenant, method)()
    assert excinfo.value.status == 409
    assert tenant.status == status
    assert tenant.contract_end == date(2026, 6, 30)
    assert tenant.ended_at is None
    assert tenant.purge_started_at is None
    assert tenant.purged_at is None


# --- purge dates ---------------------------------------------------------------------------

@pytest.mark.parametrize(("contract_end", "retain", "due"), [
    (date(2026, 6, 30), "P12M", date(2027, 7, 1)),
    (date(2026, 6, 30), "P1Y6M", date(2027, 12, 31)),
    (date(2026, 6, 30), "P30D", date(2026, 7, 31)),
    (date(2026, 12, 31), "P12M", date(2028, 1, 1)),
    # A month later than 31 August has no 31st: the period ends on the last day of February.
    (date(2025, 8, 31), "P6M", date(2026, 3, 1)),
])
def test_purge_due_on_is_end_plus_retention_plus_one_day(contract_end, retain, due):
    tenant = tenant_in("ended", contract_end=contract_end, retain_after_end=retain)
    assert tenant.purge_due_on == due


def test_open_ended_contract_has_no_purge_date():
    tenant = tenant_in("active", contract_end=None)
    assert tenant.purge_due_on is None
    clock.travel_to(date(2100, 1, 1))
    assert not tenant.is_purge_due()
    assert not tenant.contract_has_ended()


def test_purge_is_due_on_the_due_day_not_the_day_before():
    tenant = tenant_in("ended", contract_end=date(2026, 6, 30), retain_after_end="P12M")
    clock.travel_to(datetime(2027, 6, 30, 23, 59, 59, tzinfo=timezone.utc))
    assert not tenant.is_purge_due()
    clock.travel_to(date(2027, 7, 1))
    assert tenant.is_purge_due()
    clock.advance(timedelta(days=400))
    assert tenant.is_purge_due()


def test_is_purge_due_accepts_an_explicit_day():
    tenant = tenant_in("ended", contract_end=date(2026, 6, 30), retain_after_end="P30D")
    assert not tenant.is_purge_due(date(2026, 7, 30))
    assert tenant.is_purge_due(date(2026, 7, 31))


def test_contract_has_ended_only_after_its_last_day():
    tenant = tenant_in("active", contract_end=date(2026, 6, 30))
    clock.travel_to(date(2026, 6, 30))
    assert not tenant.contract_has_ended()
    clock.travel_to(date(2026, 7, 1))
    assert tenant.contract_has_ended()


# --- periods -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "later"), [
    ("P12M", date(2027, 1, 1)), ("P1Y6M", date(2027, 7, 1)), ("P30D", date(2026, 1, 31)),
    ("P2W", date(2026, 1, 15)),
])
def test_parse_period_accepts_calendar_periods(text, later):
    assert date(2026, 1, 1) + parse_period(text) == later


@pytest.mark.parametrize("value", ["12M", "PT5H", "P0D", "", 12, None, "P", "P-1M", "P1Y6", "p12m"])
def test_parse_period_rejects(value):
    with pytest.raises(ValueError):
        parse_period(value)
