"""The data map read from the models: every column with its declaration, and what is wrong with it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from privacy_saas.crypto.fields import Ciphertext
from privacy_saas.datamap.declarations import KEY, Declaration, TableDefaults
from privacy_saas.datamap.retention import RULES
from privacy_saas.datamap.vocabulary import CATEGORIES, LAWFUL_BASES, PURPOSES, SCOPES, SUBJECTS
from privacy_saas.db import Base

#: Where the data map lives on a model class.
DEFAULTS_ATTRIBUTE = "__datamap__"

HOW_TO_DECLARE = (
    'add info= to its mapped_column: not_personal(), person_id("<subject>"), person_state("<subject>"), '
    'or personal("<category>", subject="<subject>") (sealed: an Encrypted attribute over ciphertext_column; '
    'else plaintext_because="why it must be readable"), from privacy_saas.datamap')


class DataMapError(Exception):
    """The models' declarations are incomplete or wrong; the message lists every problem."""

    def __init__(self, problems: list[str]):
        super().__init__("the data map has problems:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ColumnEntry:
    """One column of the data map, with its model's defaults applied."""

    table: str
    column: str
    model: str
    declaration: Declaration
    #: Read from the column type: only sealed envelopes can be stored in it.
    encrypted: bool
    #: The table has a tenant_id column: its rows belong to one tenant.
    tenant_scoped: bool

    @property
    def name(self) -> str:
        return f"{self.table}.{self.column}"

    @property
    def personal(self) -> bool:
        return self.declaration.personal

    def as_dict(self) -> dict:
        """Return the entry as plain data (records, digest)."""
        declared = asdict(self.declaration)
        return {"table": self.table, "column": self.column, "encrypted": self.encrypted,
                **{key: list(value) if isinstance(value, tuple) else value for key, value in declared.items()}}


def _models(base) -> dict[str, type]:
    return {mapper.local_table.name: mapper.class_ for mapper in base.registry.mappers
            if getattr(mapper.local_table, "name", None)}


def _scan(base) -> tuple[list[ColumnEntry], list[tuple[str, str]]]:
    """Return the entries of the columns declared, and the problems as (table, message)."""
    models = _models(base)
    entries: list[ColumnEntry] = []
    problems: list[tuple[str, str]] = []
    for table in base.metadata.sorted_tables:
        model = models.get(table.name)
        where = f"{model.__module__}.{model.__qualname__}" if model is not None else f"table {table.name}"
        defaults = getattr(model, DEFAULTS_ATTRIBUTE, None) if model is not None else None
        if defaults is not None and not isinstance(defaults, TableDefaults):
            problems.append((table.name, f"{where}.{DEFAULTS_ATTRIBUTE} must be built with "
                                         f"privacy_saas.datamap.table(...)"))
            defaults = None
        for column in table.columns:
            declared = column.info.get(KEY)
            name = f"{table.name}.{column.name}"
            if not isinstance(declared, Declaration):
                problems.append((table.name, f"{name} ({where}) is not in the data map: {HOW_TO_DECLARE}"))
                continue
            entry = ColumnEntry(table.name, column.name, where, declared.with_defaults(defaults),
                                isinstance(column.type, Ciphertext), "tenant_id" in table.c)
            problems.extend((table.name, message) for message in _check(entry, where))
            entries.append(entry)
    problems.extend(_check_tables(entries))
    return entries, problems


def _unknown(name: str, what: str, values, known) -> list[str]:
    return [f"{name}: unknown {what} {value!r}; known: {', '.join(known)}" for value in values if value not in known]


def _check(entry: ColumnEntry, where: str) -> list[str]:
    d, name = entry.declaration, entry.name
    found: list[str] = []
    for field, hint in (("scope", ", ".join(SCOPES)), ("purpose", ", ".join(PURPOSES)),
                        ("retention", ", ".join(RULES))):
        if not getattr(d, field):
            found.append(f"{name}: no {field}; pass {field}=... in its info or set "
                         f"{DEFAULTS_ATTRIBUTE} = table({field}=...) on {where} (one of: {hint})")
    found += _unknown(name, "scope", [d.scope] if d.scope else [], SCOPES)
    found += _unknown(name, "purpose", [d.purpose] if d.purpose else [], PURPOSES)
    found += _unknown(name, "retention rule", d.retention, RULES)
    found += _unknown(name, "category", d.categories, CATEGORIES)
    found += _unknown(name, "data subject", d.subjects, SUBJECTS)
    found += _unknown(name, "lawful basis", d.lawful_basis, LAWFUL_BASES)
    purpose = PURPOSES.get(d.purpose)
    if purpose is not None and d.scope in SCOPES and purpose.scope != d.scope:
        found.append(f"{name}: purpose {d.purpose!r} belongs to the {purpose.scope} scope, not {d.scope}")
    if not d.personal:
        if entry.encrypted:
            found.append(f"{name} is sealed but declared not personal: declare what it holds with personal(...)")
        return found
    if not d.categories or "none" in d.categories or not d.subjects or "none" in d.subjects:
        found.append(f"{name} is declared personal: name its categories and data subjects (not 'none')")
    if not entry.encrypted and not (d.plaintext_because or "").strip():
        found.append(f"{name} holds {', '.join(d.categories)} of {', '.join(d.subjects)} in plaintext: seal it "
                     f"(an Encrypted attribute over ciphertext_column) or give plaintext_because='why it must "
                     f"be readable'")
    if d.scope in ("controller", "operational") and not d.lawful_basis:
        found.append(f"{name}: the vendor is the controller of this data: give lawful_basis=... "
                     f"(one or more of: {', '.join(LAWFUL_BASES)})")
    if d.scope == "processor":
        kept = [rule for rule in d.retention if rule in RULES and not RULES[rule].erased_by_purge]
        if kept:
            found.append(f"{name}: processor data must go with the tenant's purge, but rule(s) "
                         f"{', '.join(kept)} keep it")
    return found


def _check_tables(entries: list[ColumnEntry]) -> list[tuple[str, str]]:
    by_table: dict[str, set[bool]] = {}
    for entry in entries:
        if entry.tenant_scoped:
            erased = {RULES[rule].erased_by_purge for rule in entry.declaration.retention if rule in RULES}
            by_table.setdefault(entry.table, set()).update(erased)
    return [(table, f"table {table}: some columns name rules the purge erases and others rules it keeps; a "
                    f"tenant's row is either erased by its purge or kept")
            for table, erased in by_table.items() if len(erased) > 1]


def problems(base=Base) -> list[str]:
    """Return every problem of the data map of `base`'s models (empty when complete and valid)."""
    return [message for _table, message in _scan(base)[1]]


def entries(base=Base) -> list[ColumnEntry]:
    """Return every column's entry; raise DataMapError when the map has problems."""
    found, wrong = _scan(base)
    if wrong:
        raise DataMapError([message for _table, message in wrong])
    return found


def tables_erased_by_purge(base=Base) -> set[str]:
    """Return the tenant tables whose rows the post-contract purge erases, by their declared retention.

    Raises DataMapError when a tenant table is not fully declared: the purge must neither skip a table
    that may hold a tenant's personal data nor erase one that proves what happened. Problems of other
    tables are left to the data-map test.
    """
    found, wrong = _scan(base)
    tenant_tables = {table.name for table in base.metadata.tables.values() if "tenant_id" in table.c}
    blocking = [message for table, message in wrong if table in tenant_tables]
    if blocking:
        raise DataMapError(blocking)
    return {entry.table for entry in found
            if entry.tenant_scoped and all(RULES[rule].erased_by_purge for rule in entry.declaration.retention)}


def digest(found: list[ColumnEntry]) -> str:
    """Return a SHA-256 over the whole map: two records with the same digest describe the same schema."""
    payload = json.dumps([entry.as_dict() for entry in found], sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
