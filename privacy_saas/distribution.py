"""Keeping the schema distributable by tenant on Citus, checked from the models.

Past one PostgreSQL, the standard engine for multi-tenant SaaS is Citus: tenant tables are
hash-distributed by `tenant_id` and co-located (a tenant's rows of every table live in the same
shard), small shared tables are reference tables (a copy on every node), and the rest stays on
the coordinator. Citus refuses a schema that breaks its rules, so every model declares its class
in `__table_args__` (`distribution(TENANT)` ...) and `privacy-saas db check-distribution` checks
the declarations against what Citus requires (SCALING.md):

- tenant-distributed: `tenant_id` NOT NULL, in the primary key and in every unique constraint
  and unique index (uniqueness is enforced per shard); every foreign key to another tenant table
  includes `tenant_id` on both sides; no key to a coordinator-only table; a key holding `tenant_id`
  never sets it NULL or DEFAULT on delete nor cascades an update to it;
- reference: no foreign key to a tenant table;
- vendor-local: no foreign key to a tenant table.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

TENANT = "tenant-distributed"
REFERENCE = "reference"
VENDOR_LOCAL = "vendor-local"
KINDS = (TENANT, REFERENCE, VENDOR_LOCAL)
#: Where the class is kept: `Table.info[INFO_KEY]`.
INFO_KEY = "distribution"
COLUMN = "tenant_id"

HOW_TO_DECLARE = (
    "declare it in the model's __table_args__ with privacy_saas.distribution.distribution(...): "
    "TENANT (rows of one tenant: tenant_id NOT NULL, leading the primary key), "
    "REFERENCE (small, shared by every tenant, e.g. tenants) or "
    "VENDOR_LOCAL (the vendor's own records, kept on the coordinator)")


def distribution(kind: str, **options) -> dict:
    """Return `__table_args__` options declaring how the table distributes (and any other `options`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown distribution {kind!r}; one of {', '.join(KINDS)}")
    return {**options, "info": {**options.get("info", {}), INFO_KEY: kind}}


def kind_of(table: sa.Table) -> str | None:
    return table.info.get(INFO_KEY)


@dataclass
class TableReport:
    """One table's declared class and what keeps it from being distributed that way."""

    name: str
    kind: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _columns(constraint) -> list[str]:
    return [c.name for c in constraint.columns]


def _check_tenant_table(table: sa.Table, problems: list[str], kinds: dict[str, str | None]) -> None:
    column = table.c.get(COLUMN)
    if column is None:
        problems.append(f"has no {COLUMN} column to distribute by; add one (NOT NULL, first in the primary key)")
        return
    if column.nullable:
        problems.append(f"{COLUMN} is nullable; a row without a tenant has no shard: make it NOT NULL")
    if COLUMN not in _columns(table.primary_key):
        problems.append(f"primary key ({', '.join(_columns(table.primary_key)) or 'none'}) lacks {COLUMN}: "
                        f"make it ({COLUMN}, ...)")
    uniques = [(f"unique constraint ({', '.join(_columns(c))})", _columns(c))
               for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
    uniques += [(f"unique index {i.name} ({', '.join(_columns(i))})", _columns(i)) for i in table.indexes if i.unique]
    for label, columns in uniques:
        if COLUMN not in columns:
            problems.append(f"{label} lacks {COLUMN}: Citus enforces uniqueness within a shard only; "
                            f"make it ({COLUMN}, {', '.join(columns)}) or drop the uniqueness")
    for key in table.foreign_key_constraints:
        target = key.referred_table
        target_kind = kinds.get(target.name)
        pairs = {element.parent.name: element.column.name for element in key.elements}
        label = f"foreign key ({', '.join(pairs)}) -> {target.name}"
        if target_kind == VENDOR_LOCAL:
            problems.append(f"{label}: {target.name} is vendor-local, and Citus keeps no key from a distributed "
                            f"table to a coordinator table; make {target.name} a reference table or drop the key")
        elif target_kind == TENANT and pairs.get(COLUMN) != COLUMN:
            problems.append(f"{label}: a key between tenant tables must pair {COLUMN} with {target.name}.{COLUMN} "
                            f"(the shards are co-located by it); add it to both sides")
        if COLUMN in pairs:
            if (key.ondelete or "").upper() in ("SET NULL", "SET DEFAULT"):
                problems.append(f"{label}: ON DELETE {key.ondelete.upper()} would change {COLUMN}; Citus refuses it")
            if (key.onupdate or "").upper() in ("SET NULL", "SET DEFAULT", "CASCADE"):
                problems.append(f"{label}: ON UPDATE {key.onupdate.upper()} would change {COLUMN}; Citus refuses it")


def check(metadata: sa.MetaData) -> list[TableReport]:
    """Check every table of `metadata` against its declared class; one report per table, by name."""
    kinds = {name: kind_of(table) for name, table in metadata.tables.items()}
    reports = []
    for name, table in sorted(metadata.tables.items()):
        report = TableReport(name, kinds[name])
        if report.kind is None:
            report.problems.append(f"not classified: {HOW_TO_DECLARE}")
        elif report.kind not in KINDS:
            report.problems.append(f"unknown class {report.kind!r}: {HOW_TO_DECLARE}")
        elif report.kind == TENANT:
            _check_tenant_table(table, report.problems, kinds)
        else:
            for key in table.foreign_key_constraints:
                if kinds.get(key.referred_table.name) == TENANT:
                    report.problems.append(
                        f"foreign key ({', '.join(_columns(key))}) -> {key.referred_table.name}: a {report.kind} "
                        f"table cannot reference a tenant-distributed one (Citus keeps such keys only from a "
                        f"distributed table); drop the key or make this table tenant-distributed")
        reports.append(report)
    return reports
