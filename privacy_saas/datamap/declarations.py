"""How a model declares what its columns hold: `info=` helpers and per-model defaults.

    class RegisteredUser(EncryptedModel, db.Model):
        __datamap__ = table(scope="processor", purpose="user_accounts", retention="tenant_contract")

        email_ct = ciphertext_column("email_ct", info=personal("contact_details", subject="registered_user"))
        role = mapped_column(sa.String(16), info=person_state("registered_user"))
        version = mapped_column(sa.Integer, info=not_personal())

The declaration sits beside the column, so whoever adds a column writes it there (Alembic ignores
`info`). Scope, purpose, retention and lawful basis default to the model's `__datamap__` and may be
overridden per column; a plaintext justification never is inherited, so a new personal column must
be sealed or say why not. Whether a column is encrypted is not declared: it is read from its type
(`Ciphertext`). Values are checked by `privacy_saas.datamap.catalogue.problems` (the data-map test).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

#: The key of a column's `info` dict holding its Declaration.
KEY = "datamap"

#: Why an opaque id of a person may be plaintext.
OPAQUE_ID = ("a random UUID, meaningless outside this database; needed to join rows, and bound into the "
             "authenticated data of the row's ciphertexts")
#: Why an attribute of a person's record may be plaintext.
SEALED_ROW_STATE = ("a status, flag or date of a record whose identifying fields are sealed: it identifies no one "
                    "by itself, and queries filter, sort, lock or expire on it")


def _names(value: str | Iterable[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class Declaration:
    """What one column holds."""

    personal: bool
    categories: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    scope: str | None = None
    purpose: str | None = None
    #: Retention rule names; with several, the data goes when the first of them says so.
    retention: tuple[str, ...] = ()
    #: Art. 6(1) bases (controller and operational scopes); several when the basis is recorded per row.
    lawful_basis: tuple[str, ...] = ()
    #: Why a personal column is not sealed; required for every personal column that is not.
    plaintext_because: str | None = None

    def with_defaults(self, defaults: TableDefaults | None) -> Declaration:
        """Return this declaration with what it leaves open taken from its model's defaults."""
        if defaults is None:
            return self
        return replace(
            self,
            scope=self.scope or defaults.scope,
            purpose=self.purpose or defaults.purpose,
            retention=self.retention or defaults.retention,
            lawful_basis=self.lawful_basis or (defaults.lawful_basis if self.personal else ()))


@dataclass(frozen=True)
class TableDefaults:
    """A model's defaults for the declarations of its columns (`__datamap__`)."""

    scope: str | None = None
    purpose: str | None = None
    retention: tuple[str, ...] = ()
    lawful_basis: tuple[str, ...] = ()


def table(*, scope: str, purpose: str | None = None, retention: str | Iterable[str] | None = None,
          lawful_basis: str | Iterable[str] | None = None) -> TableDefaults:
    """Return a model's declaration defaults: assign it to `__datamap__`."""
    return TableDefaults(scope, purpose, _names(retention), _names(lawful_basis))


def personal(category: str | Iterable[str], *, subject: str | Iterable[str], purpose: str | None = None,
             retention: str | Iterable[str] | None = None, scope: str | None = None,
             lawful_basis: str | Iterable[str] | None = None, plaintext_because: str | None = None) -> dict:
    """Return the `info` of a column holding personal data of `subject` in `category`."""
    return {KEY: Declaration(True, _names(category), _names(subject), scope, purpose, _names(retention),
                             _names(lawful_basis), plaintext_because)}


def person_id(subject: str | Iterable[str], **declared) -> dict:
    """Return the `info` of an opaque id of a person (a primary key, or a reference to one)."""
    return personal("technical_ids", subject=subject, plaintext_because=OPAQUE_ID, **declared)


def person_state(subject: str | Iterable[str], category: str | Iterable[str] = "record_state", **declared) -> dict:
    """Return the `info` of a plaintext status, flag or date of a person's record whose identity is sealed."""
    return personal(category, subject=subject, plaintext_because=SEALED_ROW_STATE, **declared)


def not_personal(*, scope: str | None = None, purpose: str | None = None,
                 retention: str | Iterable[str] | None = None) -> dict:
    """Return the `info` of a column that holds no personal data."""
    return {KEY: Declaration(False, ("none",), ("none",), scope, purpose, _names(retention))}
