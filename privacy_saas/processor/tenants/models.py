"""Tenants (client organisations) and their contracts."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import isodate
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from privacy_saas import clock
from privacy_saas.datamap import not_personal, table
from privacy_saas.datamap.retention import TENANT_CONTRACT, TENANT_USAGE
from privacy_saas.db import choice, uuid_pk
from privacy_saas.distribution import REFERENCE, distribution
from privacy_saas.errors import InvalidTransition
from privacy_saas.extensions import db

REGIONS = ("eu", "uk", "us")
STATUSES = ("active", "ended", "purging", "purged")
END_ACTIONS = ("delete", "return_then_delete", "anonymise")
DEFAULT_RETAIN_AFTER_END = TENANT_CONTRACT.default_period
DEFAULT_USAGE_RETENTION = TENANT_USAGE.default_period
DEFAULT_SUBPROCESSOR_NOTICE = "P30D"
DEFAULT_BREACH_NOTICE = "PT48H"
#: The longest breach notice a contract may promise: the controller itself has 72 hours from
#: becoming aware to notify its supervisory authority (Art. 33(1)), so a processor promising more
#: than "without undue delay" within that is promising too little (Art. 33(2)).
MAX_BREACH_NOTICE = timedelta(hours=72)


def parse_period(value: str) -> isodate.Duration | timedelta:
    """Parse an ISO-8601 period of days, weeks, months or years (`P12M`, `P1Y6M`, `P30D`)."""
    if not isinstance(value, str) or not value.startswith("P") or "T" in value:
        raise ValueError(f"{value!r} is not an ISO-8601 period such as P12M or P30D")
    try:
        period = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise ValueError(f"{value!r} is not an ISO-8601 period such as P12M or P30D") from exc
    if date(2000, 1, 1) + period <= date(2000, 1, 1):
        raise ValueError(f"{value!r} must be a positive period")
    return period


def parse_breach_notice(value: str) -> timedelta:
    """Parse a breach notice period: an ISO-8601 duration of hours or days up to 72 hours (`PT48H`)."""
    if not isinstance(value, str) or not value.startswith("P"):
        raise ValueError(f"{value!r} is not an ISO-8601 duration such as PT48H or P2D")
    try:
        period = isodate.parse_duration(value)
    except (isodate.ISO8601Error, ValueError) as exc:
        raise ValueError(f"{value!r} is not an ISO-8601 duration such as PT48H or P2D") from exc
    if not isinstance(period, timedelta):
        raise ValueError(f"{value!r}: a breach notice is counted in hours or days, not months or years")
    if period <= timedelta(0):
        raise ValueError(f"{value!r} must be a positive duration")
    if period > MAX_BREACH_NOTICE:
        raise ValueError(f"{value!r} is longer than PT72H: the controller has 72 hours to notify its "
                         "supervisory authority (GDPR Art. 33)")
    return period


class Tenant(db.Model):
    """A client organisation, for which the vendor processes personal data."""

    __tablename__ = "tenants"
    __table_args__ = (
        choice("region", "region", REGIONS),
        choice("status", "status", STATUSES),
        choice("end_action", "end_action", END_ACTIONS),
        sa.CheckConstraint("contract_end IS NULL OR contract_end >= contract_start",
                           name="contract_dates"),
        distribution(REFERENCE),
    )
    #: The contract record of a client organisation: no personal data, kept after the purge as its tombstone.
    __datamap__ = table(scope="operational", purpose="tenant_contracts", retention="tenant_record")

    #: Time-ordered id, bound into the AAD of every encrypted value of the tenant.
    id: Mapped[uuid.UUID] = uuid_pk(not_personal())
    #: Short stable name; also the name of the tenant file (`tenants/<slug>.toml`).
    slug: Mapped[str] = mapped_column(sa.String(63), unique=True, info=not_personal())
    #: The organisation's name (a company, not a person).
    name: Mapped[str] = mapped_column(sa.String(200), info=not_personal())
    #: Data residency: where this tenant's data must stay.
    region: Mapped[str] = mapped_column(sa.String(8), info=not_personal())
    #: Lifecycle: active → ended → purging → purged.
    status: Mapped[str] = mapped_column(sa.String(16), default="active", index=True, info=not_personal())
    #: First day of the contract.
    contract_start: Mapped[date] = mapped_column(sa.Date, info=not_personal())
    #: Last day of the contract; none while open-ended.
    contract_end: Mapped[date | None] = mapped_column(sa.Date, info=not_personal())
    #: How long data is kept after the contract ends (ISO-8601 period).
    retain_after_end: Mapped[str] = mapped_column(sa.String(32), default=DEFAULT_RETAIN_AFTER_END,
                                                  info=not_personal())
    #: What happens when retention is over: delete, return then delete, or anonymise.
    end_action: Mapped[str] = mapped_column(sa.String(32), default="delete", info=not_personal())
    #: Standing instruction: registered users may delete their own account.
    self_service_deletion: Mapped[bool] = mapped_column(sa.Boolean, default=False, info=not_personal())
    #: How long usage records are kept while the contract runs (ISO-8601 period).
    usage_retention: Mapped[str] = mapped_column(sa.String(32), default=DEFAULT_USAGE_RETENTION,
                                                 info=not_personal())
    #: Contract term: notice owed before a sub-processor change takes effect (ISO-8601 period, Art. 28(2)).
    subprocessor_notice: Mapped[str] = mapped_column(sa.String(32), default=DEFAULT_SUBPROCESSOR_NOTICE,
                                                     server_default=DEFAULT_SUBPROCESSOR_NOTICE, info=not_personal())
    #: Contract term: longest time from the vendor's awareness of a breach to notifying this tenant
    #: (ISO-8601 duration, at most PT72H; Art. 33(2)).
    breach_notice: Mapped[str] = mapped_column(sa.String(32), default=DEFAULT_BREACH_NOTICE,
                                               server_default=DEFAULT_BREACH_NOTICE, info=not_personal())
    #: When the status became `ended`.
    ended_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: When the purge started.
    purge_started_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: When the purge finished.
    purged_at: Mapped[datetime | None] = mapped_column(info=not_personal())
    #: The tenant file as last applied, and console changes the operator chose to keep over it:
    #: {"applied": {field: value}, "kept": {field: the file's value when kept}} (processor/tenants/drift.py).
    file_state: Mapped[dict | None] = mapped_column(sa.JSON, info=not_personal())
    created_at: Mapped[datetime] = mapped_column(default=clock.now, info=not_personal())
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now, info=not_personal())

    def __repr__(self) -> str:
        return f"<Tenant {self.slug} {self.status}>"

    @property
    def purge_due_on(self) -> date | None:
        """Return the first day the purge may run: contract end + retention + 1 day."""
        if self.contract_end is None:
            return None
        return self.contract_end + parse_period(self.retain_after_end) + timedelta(days=1)

    def subprocessor_notice_ends(self, notified_on: date) -> date:
        """Return the first day a sub-processor change notified on `notified_on` may take effect."""
        return notified_on + parse_period(self.subprocessor_notice)

    def breach_deadline(self, aware_at: datetime) -> datetime:
        """Return when this tenant must have been notified of a breach the vendor became aware of at `aware_at`."""
        return aware_at + parse_breach_notice(self.breach_notice)

    def contract_has_ended(self, today: date | None = None) -> bool:
        """Return whether the last contract day is in the past."""
        today = today or clock.today()
        return self.contract_end is not None and self.contract_end < today

    def is_purge_due(self, today: date | None = None) -> bool:
        """Return whether the retention after contract end is over."""
        today = today or clock.today()
        due = self.purge_due_on
        return due is not None and today >= due

    @property
    def accepts_writes(self) -> bool:
        """Return whether users and SCIM may still change this tenant's data."""
        return self.status == "active"

    def _move(self, allowed_from: tuple[str, ...], to: str) -> None:
        if self.status not in allowed_from:
            raise InvalidTransition(f"tenant {self.slug} is {self.status}; cannot become {to}")
        self.status = to

    def last_day_if_ended(self, on: date | None = None) -> date:
        """Return the last contract day that ending the contract on `on` (default today) gives; raise if refused.

        The end can only come sooner than the contract's own end date, never later (that is a
        renewal: `reinstate`). An agreed end already past (the sweep noticing it late) stands.
        """
        today = clock.today()
        on = on or today
        if self.status != "active":
            raise InvalidTransition(f"tenant {self.slug} is {self.status}; cannot end its contract")
        if on < self.contract_start:
            raise InvalidTransition(f"tenant {self.slug}: the contract cannot end on {on}, before it started "
                                    f"on {self.contract_start}")
        if self.contract_end is not None and self.contract_end < on:
            if self.contract_end >= today:
                raise InvalidTransition(f"tenant {self.slug}: the contract already ends on {self.contract_end}, "
                                        f"before {on}; to extend it, renew it (reinstate)")
            return self.contract_end
        return on

    def end_contract(self, on: date | None = None) -> bool:
        """End the contract on `on` (default today): now if that day has come, else scheduled; return whether now.

        A scheduled end keeps the tenant active through its last day; the scheduler's sweep ends it
        the day after.
        """
        self.contract_end = self.last_day_if_ended(on)
        if self.contract_end > clock.today():
            return False
        self._move(("active",), "ended")
        self.ended_at = clock.now()
        return True

    def reinstate(self, until: date | None = None) -> None:
        """Renew the contract before the purge starts: an ended tenant becomes active again, a scheduled end
        is cancelled; it then runs until `until` (None: open-ended)."""
        today = clock.today()
        if self.status == "active" and (self.contract_end is None or self.contract_end < today):
            raise InvalidTransition(f"tenant {self.slug} is active with no end scheduled; nothing to reinstate")
        if until is not None and until < today:
            raise InvalidTransition(f"tenant {self.slug}: a renewed contract cannot end in the past ({until})")
        if until is not None and until < self.contract_start:
            raise InvalidTransition(f"tenant {self.slug}: the contract cannot end before it started")
        if self.status != "active":
            self._move(("ended",), "active")
        self.ended_at = None
        self.contract_end = until

    def start_purge(self) -> None:
        """Mark the purge started; only an ended tenant can be purged."""
        self._move(("ended",), "purging")
        self.purge_started_at = clock.now()

    def finish_purge(self) -> None:
        """Mark the purge finished."""
        self._move(("purging",), "purged")
        self.purged_at = clock.now()
