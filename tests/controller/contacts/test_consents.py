"""Consent log and marketing eligibility."""
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.controller.contacts import service
from privacy_saas.controller.contacts.models import ConsentEvent
from privacy_saas.errors import AppError


def test_consent_basis_requires_live_consent(make_contact):
    contact = make_contact(lawful_basis="consent")
    assert service.marketing_eligibility(contact) == service.Eligibility(False, "no_consent")
    service.record_consent(contact, "newsletter", "granted", "newsletter form")
    # Consent for another purpose does not cover marketing e-mail.
    assert not service.marketing_eligibility(contact, "marketing_email")
    assert service.marketing_eligibility(contact, "newsletter") == service.Eligibility(True, "consent")
    service.record_consent(contact, "marketing_email", "granted", "ticked the box at the stand")
    assert service.marketing_eligibility(contact).allowed


def test_withdrawal_stops_marketing(make_contact):
    contact = make_contact(lawful_basis="consent")
    service.record_consent(contact, "marketing_email", "granted", "web form")
    clock.advance(timedelta(days=30))
    service.record_consent(contact, "marketing_email", "withdrawn", "replied STOP")
    assert service.marketing_eligibility(contact) == service.Eligibility(False, "consent_withdrawn")
    assert service.marketable([contact]) == []
    clock.advance(timedelta(days=30))
    service.record_consent(contact, "marketing_email", "granted", "re-subscribed on web form")
    assert service.marketing_eligibility(contact).allowed


def test_same_instant_events_keep_their_recording_order(make_contact):
    clock.travel_to(datetime(2026, 3, 1, tzinfo=timezone.utc))
    contact = make_contact(lawful_basis="consent")
    service.record_consent(contact, "events", "granted", "form")
    service.record_consent(contact, "events", "withdrawn", "e-mail reply")
    assert service.marketing_eligibility(contact, "events").reason == "consent_withdrawn"


def test_backdated_grant_does_not_override_a_later_withdrawal(make_contact):
    contact = make_contact(lawful_basis="consent")
    service.record_consent(contact, "marketing_email", "withdrawn", "unsubscribe reply")
    service.record_consent(contact, "marketing_email", "granted", "paper form found later",
                           at=clock.now() - timedelta(days=10))
    assert not service.marketing_eligibility(contact)


def test_legitimate_interest_allows_marketing_until_objection(make_contact):
    contact = make_contact(lawful_basis="legitimate_interest")
    assert service.marketing_eligibility(contact) == service.Eligibility(True, "legitimate_interest")
    service.record_consent(contact, "marketing_email", "withdrawn", "asked us to stop")
    assert service.marketing_eligibility(contact) == service.Eligibility(False, "objected")
    # An objection to one purpose leaves the others.
    assert service.marketing_eligibility(contact, "events").allowed


@pytest.mark.parametrize("basis", ["contract", "legal_obligation"])
def test_bases_that_do_not_cover_marketing(make_contact, basis):
    contact = make_contact(lawful_basis=basis)
    service.record_consent(contact, "marketing_email", "granted", "form")
    result = service.marketing_eligibility(contact)
    assert not result and result.reason == f"basis_{basis}_does_not_cover_marketing"


@pytest.mark.parametrize("flag", ["do_not_contact", "restricted"])
def test_do_not_contact_and_restricted_stop_marketing(make_contact, flag):
    contact = make_contact(lawful_basis="consent")
    service.record_consent(contact, "marketing_email", "granted", "form")
    service.update(contact, {flag: True})
    assert service.marketing_eligibility(contact) == service.Eligibility(False, flag)


def test_unknown_purpose_is_refused(make_contact):
    contact = make_contact()
    with pytest.raises(AppError) as raised:
        service.record_consent(contact, "telepathy", "granted", "form")
    assert "purpose" in raised.value.errors
    with pytest.raises(ValueError):
        service.marketing_eligibility(contact, "telepathy")


def test_consent_log_is_append_only_and_evidence_encrypted(make_contact, ready):
    contact = make_contact()
    event = service.record_consent(contact, "newsletter", "granted", "Ada signed the form")
    assert b"Ada" not in event.evidence_ct
    ready.commit()
    event.action = "withdrawn"
    with pytest.raises(ValueError, match="append-only"):
        ready.flush()
    ready.rollback()
    assert ready.scalars(sa.select(ConsentEvent.action)).all() == ["granted"]
