"""Retention rules at the edges of their windows, dry runs, idempotent and resumable sweeps."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.audit.models import AuditEntry
from privacy_saas.controller import tasks
from privacy_saas.controller.contacts import service as contacts
from privacy_saas.controller.contacts.models import ConsentEvent, Contact
from privacy_saas.controller.records import service as records
from privacy_saas.controller.records.models import BillingRecord, WebsiteActivity
from privacy_saas.controller.retention import service as retention
from privacy_saas.controller.retention.models import RetentionSweep
from privacy_saas.controller.retention.rules import RetentionConfigError, active_rules

T0 = datetime(2020, 1, 15, 10, 0, tzinfo=timezone.utc)


def years_after(start: datetime, n: int, days: int = 0) -> datetime:
    return start.replace(year=start.year + n) + timedelta(days=days)


def _count(session, model) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def _planned(rule: str) -> int:
    return {plan.name: plan.count for plan in retention.preview().rules}[rule]


def _deleted(sweep, rule: str) -> int:
    return sweep.report["rules"][rule]["deleted"]


@pytest.fixture
def at_t0(ready):
    clock.travel_to(T0)
    return ready


MAKERS = {
    # A customer contact: only the 5-year rule applies to it.
    "contacts_unconfirmed": (5, Contact, lambda mk: mk(is_customer_contact=True)),
    "contacts_no_contact": (3, Contact, lambda mk: mk()),
    "website_activity": (2, WebsiteActivity, lambda mk: records.record_activity("page_view", "/", visitor_id="v1")),
    "billing_records": (5, BillingRecord,
                        lambda mk: records.add_invoice("INV-2020-001", "Acme Ltd", 120000, "eur", T0.date())),
}


@pytest.mark.parametrize("rule", list(MAKERS))
def test_rule_edges_one_day_before_and_after(at_t0, make_contact, rule):
    period, model, make = MAKERS[rule]
    make(make_contact)
    at_t0.commit()

    clock.travel_to(years_after(T0, period, days=-1))
    assert _planned(rule) == 0
    sweep = tasks.run_sweep()
    assert _deleted(sweep, rule) == 0 and _count(at_t0, model) == 1

    clock.travel_to(years_after(T0, period, days=+1))
    assert _planned(rule) == 1
    sweep = tasks.run_sweep()
    assert _deleted(sweep, rule) == 1 and _count(at_t0, model) == 0
    assert sum(entry["deleted"] for entry in sweep.report["rules"].values()) == 1


def test_reconfirmation_restarts_the_five_years(at_t0, make_contact):
    contact = make_contact(is_customer_contact=True)
    clock.travel_to(years_after(T0, 4))
    contacts.update(contact, {"reviewed": True})
    at_t0.commit()
    clock.travel_to(years_after(T0, 5, days=1))
    assert _deleted(tasks.run_sweep(), "contacts_unconfirmed") == 0
    clock.travel_to(years_after(T0, 9, days=-1))
    assert _deleted(tasks.run_sweep(), "contacts_unconfirmed") == 0
    clock.travel_to(years_after(T0, 9, days=1))
    assert _deleted(tasks.run_sweep(), "contacts_unconfirmed") == 1


def test_successful_contact_restarts_the_three_years(at_t0, make_contact):
    contact = make_contact()
    contacts.record_successful_contact(contact, years_after(T0, 2))
    at_t0.commit()
    clock.travel_to(years_after(T0, 5, days=-1))
    assert _planned("contacts_no_contact") == 0
    # Past five years both rules match; the first one takes it, and it is counted once.
    clock.travel_to(years_after(T0, 5, days=1))
    sweep = tasks.run_sweep()
    assert (_deleted(sweep, "contacts_unconfirmed"), _deleted(sweep, "contacts_no_contact")) == (1, 0)


def test_customer_contacts_are_exempt_from_the_three_year_rule(at_t0, make_contact):
    make_contact(is_customer_contact=True)
    at_t0.commit()
    clock.travel_to(years_after(T0, 4))
    assert _deleted(tasks.run_sweep(), "contacts_no_contact") == 0
    assert _count(at_t0, Contact) == 1


def test_restricted_contacts_are_held(at_t0, make_contact):
    make_contact(restricted=False)
    held = make_contact()
    contacts.update(held, {"restricted": True})
    at_t0.commit()
    clock.travel_to(years_after(T0, 6))
    preview = retention.preview()
    assert preview.held_restricted == 1
    sweep = tasks.run_sweep()
    assert sweep.report["held_restricted"] == 1
    assert at_t0.scalars(sa.select(Contact.id)).all() == [held.id]


def test_deleting_a_contact_takes_its_consents_and_unlinks_its_activity(at_t0, make_contact):
    contact = make_contact()
    contacts.record_consent(contact, "newsletter", "granted", "form")
    records.record_activity("download", "/whitepaper.pdf", contact_id=contact.id)
    at_t0.commit()
    clock.travel_to(years_after(T0, 3, days=1))
    sweep = tasks.run_sweep()
    assert _deleted(sweep, "contacts_no_contact") == 1
    assert _count(at_t0, ConsentEvent) == 0
    # The activity is 3 years old, so its own 2-year rule took it in the same sweep.
    assert _deleted(sweep, "website_activity") == 1


def test_activity_outlives_a_deleted_contact_within_its_window(at_t0, make_contact):
    contact = make_contact()
    at_t0.commit()
    clock.travel_to(years_after(T0, 2, days=-10))
    activity = records.record_activity("page_view", "/blog", contact_id=contact.id)
    at_t0.commit()
    clock.travel_to(years_after(T0, 3, days=1))
    tasks.run_sweep()
    at_t0.expire_all()
    remaining = at_t0.get(WebsiteActivity, activity.id)
    assert remaining is not None and remaining.contact_id is None


def test_dry_run_deletes_nothing(at_t0, make_contact, runner):
    for _ in range(3):
        make_contact()
    records.record_activity("page_view", "/", visitor_id="v")
    records.add_invoice("INV-1", "Acme Ltd", 100, "GBP", T0.date())
    at_t0.commit()
    clock.travel_to(years_after(T0, 6))
    result = runner.invoke(args=["retention", "sweep", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "nothing is deleted" in result.output
    assert "contacts_unconfirmed   would delete        3  because: sales and marketing contact" in result.output
    assert "website_activity       would delete        1" in result.output
    assert "billing_records        would delete        1" in result.output
    assert "2021-01-15" in result.output  # the concrete billing cutoff (6 years on, minus 5)
    assert (_count(at_t0, Contact), _count(at_t0, WebsiteActivity), _count(at_t0, BillingRecord)) == (3, 1, 1)
    assert _count(at_t0, RetentionSweep) == 0


def test_sweep_cli_prints_counts_and_why(at_t0, make_contact, runner):
    make_contact()
    at_t0.commit()
    clock.travel_to(years_after(T0, 3, days=2))
    result = runner.invoke(args=["retention", "sweep"])
    assert result.exit_code == 0, result.output
    assert "contacts_no_contact    deleted        1  because: non-customer contact held since before 2020-01-17" \
        in result.output
    assert "review due" in result.output
    assert _count(at_t0, Contact) == 0


def test_sweeps_are_idempotent_and_audited(at_t0, make_contact):
    for _ in range(5):
        make_contact()
    at_t0.commit()
    clock.travel_to(years_after(T0, 4))
    first = tasks.run_sweep(batch_size=2)
    second = tasks.run_sweep(batch_size=2)
    assert _deleted(first, "contacts_no_contact") == 5 and _deleted(second, "contacts_no_contact") == 0
    entries = at_t0.scalars(sa.select(AuditEntry).where(AuditEntry.action == "retention.sweep")).all()
    assert [e.detail["deleted"]["contacts_no_contact"] for e in entries] == [5, 0]
    assert retention.last_sweep().id == second.id


def test_a_killed_sweep_resumes_with_its_own_cutoffs(at_t0, make_contact):
    for _ in range(5):
        make_contact()
    at_t0.commit()
    clock.travel_to(years_after(T0, 3, days=1))

    class Killed(Exception):
        pass

    def die(_sweep, _rule, _deleted):
        raise Killed

    with pytest.raises(Killed):
        tasks.run_sweep(batch_size=2, on_batch=die)
    at_t0.rollback()
    running = retention.running_sweep()
    assert running is not None and _deleted(running, "contacts_no_contact") == 2
    assert _count(at_t0, Contact) == 3

    # The dead worker's lease has not run out: a second worker must not start.
    with pytest.raises(retention.SweepBusy):
        tasks.run_sweep()
    at_t0.rollback()

    # After the lease, the next run takes over; it keeps the first run's cutoffs although time moved on.
    clock.advance(retention.DEFAULT_LEASE + timedelta(minutes=1))
    make_contact()  # collected now: not due under the original cutoffs either
    at_t0.commit()
    resumed = tasks.run_sweep(batch_size=2)
    assert resumed.id == running.id and resumed.resumed == 1
    assert _deleted(resumed, "contacts_no_contact") == 5
    assert resumed.as_of == years_after(T0, 3, days=1)
    assert _count(at_t0, Contact) == 1
    assert _count(at_t0, RetentionSweep) == 1 and retention.running_sweep() is None


def test_job_entry_point_returns_counts(at_t0, make_contact):
    make_contact()
    at_t0.commit()
    clock.travel_to(years_after(T0, 3, days=1))
    result = tasks.retention_sweep()
    assert result["deleted"]["contacts_no_contact"] == 1 and "sweep_id" in result


def test_review_due_counts_contacts_not_reviewed_this_quarter(at_t0, make_contact):
    make_contact()
    reviewed = make_contact()
    at_t0.commit()
    clock.travel_to(T0 + timedelta(days=80))
    contacts.update(reviewed, {"reviewed": True})
    clock.travel_to(T0 + timedelta(days=100))
    assert retention.preview().review_due == 1


def test_periods_come_from_config(app, at_t0, make_contact, monkeypatch):
    records.record_activity("page_view", "/", visitor_id="v")
    at_t0.commit()
    monkeypatch.setitem(app.config, "CONTROLLER_RETENTION", {"website_activity": "P1Y", "billing_records": None})
    assert [r.name for r in active_rules()] == ["contacts_unconfirmed", "contacts_no_contact", "website_activity"]
    clock.travel_to(years_after(T0, 1, days=1))
    assert _deleted(tasks.run_sweep(), "website_activity") == 1


def test_periods_from_the_environment(app, ready, monkeypatch):
    monkeypatch.setenv("PRIVACY_SAAS_CONTROLLER_RETENTION", "contacts_no_contact=P4Y, website_activity=off")
    names = {r.name: r.period for r in active_rules()}
    assert names == {"contacts_unconfirmed": "P5Y", "contacts_no_contact": "P4Y", "billing_records": "P5Y"}


@pytest.mark.parametrize("config", [{"website_activity": "two years"}, {"website_activity": "P0D"},
                                    {"invoices": "P5Y"}])
def test_bad_config_is_a_clear_error(app, ready, monkeypatch, runner, config):
    monkeypatch.setitem(app.config, "CONTROLLER_RETENTION", config)
    with pytest.raises(RetentionConfigError):
        active_rules()
    result = runner.invoke(args=["retention", "sweep", "--dry-run"])
    assert result.exit_code == 1
    assert "error:" in result.output
