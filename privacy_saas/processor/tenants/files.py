"""Declarative tenant files: `tenants/<slug>.toml`, parsed and validated as a whole."""
from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from privacy_saas.crypto import normalise_email
from privacy_saas.processor.privacy_contacts.models import MAX_CONTACTS
from privacy_saas.processor.tenants.models import (
    DEFAULT_BREACH_NOTICE,
    DEFAULT_RETAIN_AFTER_END,
    DEFAULT_SUBPROCESSOR_NOTICE,
    DEFAULT_USAGE_RETENTION,
    END_ACTIONS,
    REGIONS,
    parse_breach_notice,
    parse_period,
)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


class TomlDate(fields.Field):
    """A TOML date literal (`2025-01-01`), or the same as an ISO string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dt.datetime):
            raise ValidationError("must be a date (YYYY-MM-DD), not a date-time")
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ValidationError("must be a date (YYYY-MM-DD)")


class Period(fields.String):
    """An ISO-8601 period such as `P12M`."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_period(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        return value


class BreachNotice(fields.String):
    """An ISO-8601 duration of at most 72 hours, such as `PT48H`."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            parse_breach_notice(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from exc
        return value


class StrictBoolean(fields.Field):
    """A TOML boolean, not a string that looks like one."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class ContractSchema(Schema):
    class Meta:
        unknown = RAISE

    start = TomlDate(required=True)
    end = TomlDate(load_default=None)
    retain_after_end = Period(load_default=DEFAULT_RETAIN_AFTER_END)
    end_action = fields.String(required=True, validate=validate.OneOf(END_ACTIONS))

    @validates_schema
    def _end_after_start(self, data, **kwargs):
        if data.get("end") and data.get("start") and data["end"] < data["start"]:
            raise ValidationError("must not be before contract.start", "end")


class PolicySchema(Schema):
    class Meta:
        unknown = RAISE

    self_service_deletion = StrictBoolean(load_default=False)
    usage_retention = Period(load_default=DEFAULT_USAGE_RETENTION)


class NoticesSchema(Schema):
    """What the contract promises the tenant: notice periods and who receives notices."""

    class Meta:
        unknown = RAISE

    subprocessor_notice = Period(load_default=DEFAULT_SUBPROCESSOR_NOTICE)
    breach_notice = BreachNotice(load_default=DEFAULT_BREACH_NOTICE)
    privacy_contacts = fields.List(fields.Email(validate=validate.Length(max=254)), load_default=list,
                                   validate=validate.Length(max=MAX_CONTACTS))

    @validates_schema
    def _contacts_once(self, data, **kwargs):
        emails = [normalise_email(e) for e in data.get("privacy_contacts", [])]
        if len(set(emails)) != len(emails):
            raise ValidationError("lists the same e-mail twice", "privacy_contacts")


class AdminSchema(Schema):
    class Meta:
        unknown = RAISE

    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


#: What a file without a [policy] or [notices] table gets (loaded once: building a schema per file is costly).
_DEFAULT_POLICY = PolicySchema().load({})
_DEFAULT_NOTICES = NoticesSchema().load({})


class TenantFileSchema(Schema):
    class Meta:
        unknown = RAISE

    slug = fields.String(required=True, validate=validate.Regexp(
        SLUG_RE, error="must be 1-63 lower-case letters, digits or hyphens"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    region = fields.String(required=True, validate=validate.OneOf(REGIONS))
    contract = fields.Nested(ContractSchema, required=True)
    policy = fields.Nested(PolicySchema, load_default=lambda: dict(_DEFAULT_POLICY))
    notices = fields.Nested(NoticesSchema, load_default=lambda: dict(_DEFAULT_NOTICES))
    admins = fields.List(fields.Nested(AdminSchema), load_default=list)


#: One schema for every file: building one is most of the cost of loading a small file.
_SCHEMA = TenantFileSchema()


@dataclass(frozen=True)
class TenantSpec:
    """What one tenant file asks for."""

    path: Path
    slug: str
    name: str
    region: str
    contract_start: dt.date
    contract_end: dt.date | None
    retain_after_end: str
    end_action: str
    self_service_deletion: bool
    usage_retention: str
    subprocessor_notice: str = DEFAULT_SUBPROCESSOR_NOTICE
    breach_notice: str = DEFAULT_BREACH_NOTICE
    admins: tuple[tuple[str, str], ...] = field(default=())
    #: E-mails of the client's privacy/DPO contacts (personal data: stored sealed, never logged).
    privacy_contacts: tuple[str, ...] = field(default=())

    def tenant_fields(self) -> dict:
        """Return the values the tenant row must hold."""
        return {
            "name": self.name,
            "region": self.region,
            "contract_start": self.contract_start,
            "contract_end": self.contract_end,
            "retain_after_end": self.retain_after_end,
            "end_action": self.end_action,
            "self_service_deletion": self.self_service_deletion,
            "usage_retention": self.usage_retention,
            "subprocessor_notice": self.subprocessor_notice,
            "breach_notice": self.breach_notice,
        }


@dataclass
class FileError:
    """One problem in one file, at one field."""

    path: Path
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.field}: {self.message}"


def _flatten(messages, prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.extend(_flatten(value, name))
    elif isinstance(messages, list):
        for item in messages:
            out.extend(_flatten(item, prefix) if not isinstance(item, str) else [(prefix, item)])
    else:
        out.append((prefix, str(messages)))
    return out


def load_file(path: Path) -> tuple[TenantSpec | None, list[FileError]]:
    """Parse and validate one tenant file."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return None, [FileError(path, "(file)", "is not UTF-8 text")]
    except tomllib.TOMLDecodeError as exc:
        return None, [FileError(path, "(syntax)", str(exc))]
    try:
        data = _SCHEMA.load(raw)
    except ValidationError as exc:
        return None, [FileError(path, name or "(file)", msg) for name, msg in _flatten(exc.messages)]
    if data["slug"] != path.stem:
        return None, [FileError(path, "slug", f"{data['slug']!r} does not match the file name {path.name!r}")]
    emails = [a["email"].strip().lower() for a in data["admins"]]
    if len(set(emails)) != len(emails):
        return None, [FileError(path, "admins", "lists the same e-mail twice")]
    contract, policy, notices = data["contract"], data["policy"], data["notices"]
    return TenantSpec(
        path=path,
        slug=data["slug"],
        name=data["name"],
        region=data["region"],
        contract_start=contract["start"],
        contract_end=contract["end"],
        retain_after_end=contract["retain_after_end"],
        end_action=contract["end_action"],
        self_service_deletion=policy["self_service_deletion"],
        usage_retention=policy["usage_retention"],
        subprocessor_notice=notices["subprocessor_notice"],
        breach_notice=notices["breach_notice"],
        admins=tuple((a["email"].strip(), a["name"]) for a in data["admins"]),
        privacy_contacts=tuple(e.strip() for e in notices["privacy_contacts"]),
    ), []


def load_dir(directory: Path) -> tuple[list[TenantSpec], list[FileError]]:
    """Parse every `*.toml` in `directory`; errors are collected, not raised."""
    if not directory.is_dir():
        return [], [FileError(directory, "(directory)", "does not exist")]
    specs, errors = [], []
    for path in sorted(directory.glob("*.toml")):
        spec, file_errors = load_file(path)
        errors.extend(file_errors)
        if spec:
            specs.append(spec)
    return specs, errors


# --- the file and the console, side by side ---------------------------------------------------

#: What the console and the API change as well as the tenant file: the contract's end (ended early,
#: scheduled, reinstated). Everything else in a file is the file's alone. The status follows it.
SHARED_FIELDS = ("contract_end",)


def _plain(value) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class Drift:
    """A value changed outside the file (console or API) since the file was last applied, that the file would revert."""

    slug: str
    field: str
    #: What the tenant holds now, and what the file asks for (ISO dates or None).
    current: str | None
    in_file: str | None

    def describe(self) -> str:
        """Return one human line naming tenant, field and both values."""
        return (f"{self.slug}: {self.field} was changed in the console or API to {self.current or 'none (open-ended)'}; "
                f"the file says {self.in_file or 'none (open-ended)'}")


def drift(tenant, spec: TenantSpec) -> list[Drift]:
    """Return the shared fields of `tenant` changed outside its file that applying `spec` would revert.

    `tenant.file_state` remembers what the file said when last applied ("applied") and the console
    values the operator chose to keep over it ("kept", with the file value they were kept against).
    A difference is the file's to make when the tenant still holds the file's last value (the file
    changed); it is drift when the tenant's value moved away from it (the console changed it).
    A tenant with no such record (applied before drift was tracked) follows its file, as it always did.
    """
    state = tenant.file_state or {}
    applied, kept = state.get("applied", {}), state.get("kept", {})
    found = []
    for name in SHARED_FIELDS:
        current, wanted = _plain(getattr(tenant, name)), _plain(getattr(spec, name))
        if current == wanted or kept.get(name, "-") == wanted or name not in applied or applied[name] == current:
            continue
        found.append(Drift(spec.slug, name, current, wanted))
    return found


def kept_fields(tenant, spec: TenantSpec) -> set[str]:
    """Return the shared fields whose console value the operator kept over this very file value."""
    kept = (tenant.file_state or {}).get("kept", {})
    return {name for name in SHARED_FIELDS if name in kept and kept[name] == _plain(getattr(spec, name))}


def record_applied(tenant, spec: TenantSpec, keep: set[str] = frozenset()) -> None:
    """Remember what the file said, and which console values in `keep` stay over it."""
    kept = {name: value for name, value in ((tenant.file_state or {}).get("kept", {})).items() if name in keep}
    for name in keep:
        kept[name] = _plain(getattr(spec, name))
    applied = {name: _plain(getattr(tenant, name)) for name in SHARED_FIELDS}
    tenant.file_state = {"applied": applied, "kept": kept}
