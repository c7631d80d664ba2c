"""Retention rules of the controller scope, with the published policies' periods as defaults.

The rules are those of the data map's registry (privacy_saas.datamap.retention): this module says
which rows each one matches; names and default periods come from the registry.

Configure with the app config `CONTROLLER_RETENTION` (or the environment variable
`PRIVACY_SAAS_CONTROLLER_RETENTION="website_activity=P1Y,contacts_no_contact=P4Y"`):
a rule name → ISO-8601 period, or None to switch a rule off.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

import isodate
import sqlalchemy as sa
from flask import current_app

from privacy_saas.controller.contacts.models import Contact
from privacy_saas.controller.records.models import BillingRecord, WebsiteActivity
from privacy_saas.datamap import retention as registry
from privacy_saas.errors import AppError

#: How often contacts must be reviewed (reported, never deleted on its own).
DEFAULT_REVIEW_INTERVAL = "P3M"


class RetentionConfigError(AppError):
    status = 500
    code = "retention_misconfigured"


@dataclass(frozen=True)
class Rule:
    """One retention rule: which rows are due at a cutoff, and why."""

    name: str
    model: type
    #: Returns the SQL condition for rows past their period when everything before `cutoff` must go.
    match: Callable[[datetime], sa.ColumnElement]
    #: Human explanation, formatted with period and cutoff.
    why: str
    period: str
    #: Rows the rule must keep although past their period (restricted processing, Art. 18).
    held: Callable[[], sa.ColumnElement] | None = None

    def condition(self, cutoff: datetime) -> sa.ColumnElement:
        """Return the SQL condition for rows this rule deletes."""
        if self.held is None:
            return self.match(cutoff)
        return sa.and_(self.match(cutoff), sa.not_(self.held()))

    def held_condition(self, cutoff: datetime) -> sa.ColumnElement | None:
        """Return the condition for rows past their period but held, or None."""
        return None if self.held is None else sa.and_(self.match(cutoff), self.held())

    def cutoff(self, as_of: datetime) -> datetime:
        """Return the instant before which this rule's rows are due."""
        return as_of - parse_period(self.period)

    def explain(self, as_of: datetime) -> str:
        """Return why rows are deleted, with the concrete cutoff date."""
        return self.why.format(period=describe_period(self.period), cutoff=f"{self.cutoff(as_of):%Y-%m-%d}")


def parse_period(value: str) -> isodate.Duration | timedelta:
    """Parse an ISO-8601 period (P5Y, P18M, P90D); raise RetentionConfigError."""
    try:
        if not isinstance(value, str) or not value.startswith("P") or "T" in value:
            raise ValueError
        period = isodate.parse_duration(value)
        if date(2000, 1, 1) + period <= date(2000, 1, 1):
            raise ValueError
    except (isodate.ISO8601Error, ValueError):
        raise RetentionConfigError(f"{value!r} is not a positive ISO-8601 period such as P5Y or P90D") from None
    return period


def describe_period(value: str) -> str:
    """Return `P5Y` as `5 years`."""
    period = parse_period(value)
    if isinstance(period, timedelta):
        return f"{period.days} days"
    parts = [(int(period.years), "year"), (int(period.months), "month"), (period.tdelta.days, "day")]
    return " ".join(f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n) or "0 days"


def _contacts_unconfirmed(cutoff: datetime):
    return sa.and_(Contact.created_at < cutoff,
                   sa.or_(Contact.last_reviewed_at.is_(None), Contact.last_reviewed_at < cutoff))


def _contacts_no_contact(cutoff: datetime):
    return sa.and_(Contact.is_customer_contact.is_(False), Contact.created_at < cutoff,
                   sa.or_(Contact.last_successful_contact_at.is_(None),
                          Contact.last_successful_contact_at < cutoff))


def _restricted():
    return Contact.restricted.is_(True)


#: What each registry rule the sweep enforces deletes, in the order a sweep applies them.
_RULES = {
    registry.CONTACTS_UNCONFIRMED: (
        Contact, _contacts_unconfirmed,
        "sales and marketing contact collected, and not re-confirmed at a review, before {cutoff} "
        "(kept {period} with quarterly review)", _restricted),
    registry.CONTACTS_NO_CONTACT: (
        Contact, _contacts_no_contact,
        "non-customer contact held since before {cutoff} with no successful contact since "
        "(deleted after {period} without successful contact)", _restricted),
    registry.WEBSITE_ACTIVITY: (
        WebsiteActivity, lambda cutoff: WebsiteActivity.occurred_at < cutoff,
        "website activity recorded before {cutoff} (kept {period})", None),
    registry.BILLING_RECORDS: (
        BillingRecord, lambda cutoff: BillingRecord.issued_on < cutoff.date(),
        "invoice issued before {cutoff}: the legal obligation to keep it {period} has ended", None),
}
_BY_NAME = {rule.name: rule for rule in _RULES}
#: Policy defaults from the registry: contact details 5 years with quarterly review; CRM contacts without a
#: successful contact for 3 years; website activity 2 years; invoices 5 years (legal obligation).
DEFAULT_PERIODS: dict[str, str | None] = {rule.name: rule.default_period for rule in _RULES}


def _env_periods() -> dict[str, str | None]:
    raw = os.environ.get("PRIVACY_SAAS_CONTROLLER_RETENTION", "").strip()
    periods: dict[str, str | None] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, value = item.partition("=")
        if not sep:
            raise RetentionConfigError(f"PRIVACY_SAAS_CONTROLLER_RETENTION: expected name=period, got {item!r}")
        value = value.strip()
        periods[name.strip()] = None if value.lower() in ("", "off", "none") else value
    return periods


def periods() -> dict[str, str | None]:
    """Return the configured period of every rule (None: switched off)."""
    configured = {**DEFAULT_PERIODS, **_env_periods(), **(current_app.config.get("CONTROLLER_RETENTION") or {})}
    unknown = sorted(set(configured) - set(_BY_NAME))
    if unknown:
        raise RetentionConfigError(f"unknown retention rule(s) {', '.join(unknown)}; "
                                   f"known: {', '.join(_BY_NAME)}")
    for value in configured.values():
        if value is not None:
            parse_period(value)
    return configured


def active_rules() -> list[Rule]:
    """Return the switched-on rules, in the order a sweep applies them."""
    return [Rule(name, model, match, why, period, held)
            for name, period in periods().items() if period is not None
            for model, match, why, held in [_RULES[_BY_NAME[name]]]]


def enforced_rules() -> list[registry.RetentionRule]:
    """Return the registry rules this sweep enforces (switched on or not)."""
    return list(_RULES)


def review_interval() -> str:
    """Return how often contacts must be reviewed."""
    value = current_app.config.get("CONTROLLER_REVIEW_INTERVAL", DEFAULT_REVIEW_INTERVAL)
    parse_period(value)
    return value
