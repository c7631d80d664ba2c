"""One tenant's inventory: what is held for it, by category and table, computed without decrypting anything.

Only counts and the dates of rows are read (COUNT, MIN, MAX on plaintext columns), so the inventory
works the same whether or not the tenant's keys can be unwrapped, and shows no personal data.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from privacy_saas import clock
from privacy_saas.datamap import catalogue, retention
from privacy_saas.datamap.catalogue import ColumnEntry
from privacy_saas.datamap.vocabulary import CATEGORIES, PURPOSES, SUBJECTS
from privacy_saas.db import Base
from privacy_saas.extensions import db
from privacy_saas.processor.tenants.models import Tenant, parse_period
from privacy_saas.records import transfers

#: Columns that date a row, in order of preference: the inventory's oldest and newest record.
DATE_COLUMNS = ("occurred_at", "created_at", "received_at", "set_at", "started_at", "issued_at", "at", "month")


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, (date, datetime)) else None


def _dates_of(table: sa.Table) -> sa.Column | None:
    return next((table.c[name] for name in DATE_COLUMNS if name in table.c), None)


def _counts(table: sa.Table, tenant: Tenant) -> tuple[int, object, object]:
    dated = _dates_of(table)
    columns = [sa.func.count()] + ([sa.func.min(dated), sa.func.max(dated)] if dated is not None else [])
    row = db.session.execute(sa.select(*columns).select_from(table).where(table.c.tenant_id == tenant.id)).one()
    return (row[0], row[1], row[2]) if dated is not None else (row[0], None, None)


def _deletion(tenant: Tenant, rules: list[str], oldest) -> dict:
    """Return when this table's rows of the tenant go, by its rules."""
    due = tenant.purge_due_on
    if not all(retention.RULES[name].erased_by_purge for name in rules):
        return {"rule": "kept", "next_deletion_on": None,
                "deleted": "kept after the purge: holds no personal data of the tenant's users beyond opaque ids"
                if any(name == retention.AUDIT_TRAIL.name for name in rules)
                else "kept after the purge as proof of what was done (no personal data of the tenant's users)"}
    purge = (f"erased by the purge on {due.isoformat()}" if due else
             f"erased by the purge {tenant.retain_after_end} after the contract ends")
    if retention.TENANT_USAGE.name in rules and tenant.status == "active":
        period = retention.TENANT_USAGE.tenant_period(tenant)
        first = (oldest + parse_period(period)).date() if isinstance(oldest, datetime) else None
        if due is not None and (first is None or due < first):
            first = due
        return {"rule": retention.TENANT_USAGE.name, "next_deletion_on": first.isoformat() if first else None,
                "deleted": f"each record deleted {period} after it happened (daily); the rest {purge}"}
    return {"rule": rules[0], "next_deletion_on": due.isoformat() if due else None, "deleted": purge}


def _table(table: sa.Table, entries: list[ColumnEntry], tenant: Tenant, register) -> dict:
    personal = [e for e in entries if e.personal]
    declared = personal or entries
    rules = sorted({rule for e in entries for rule in e.declaration.retention}, key=list(retention.RULES).index)
    categories = [c for c in CATEGORIES if any(c in e.declaration.categories for e in personal)]
    count, oldest, newest = _counts(table, tenant)
    return {
        "table": table.name,
        "scope": declared[0].declaration.scope,
        "purposes": [{"name": p, "label": PURPOSES[p].label} for p in PURPOSES
                     if any(e.declaration.purpose == p for e in declared)],
        "personal": bool(personal),
        "categories": categories,
        "data_subjects": [s for s in SUBJECTS if any(s in e.declaration.subjects for e in personal)],
        "personal_columns": len(personal),
        "encrypted_columns": sum(e.encrypted for e in personal),
        "records": count,
        "oldest": _iso(oldest),
        "newest": _iso(newest),
        "retention": rules,
        **_deletion(tenant, rules, oldest),
        "subprocessors": [entry.name for entry in register if personal and transfers.receives(entry, categories)],
    }


def inventory(tenant: Tenant) -> dict:
    """Return what is held for `tenant`: per table and per category, with counts, dates, retention, recipients."""
    entries = catalogue.entries()
    by_table: dict[str, list[ColumnEntry]] = {}
    for entry in entries:
        if entry.tenant_scoped:
            by_table.setdefault(entry.table, []).append(entry)
    register = [entry for entry in transfers.register("processor") if transfers.serves(entry, tenant.region)]
    tables = [_table(table, by_table[table.name], tenant, register)
              for table in Base.metadata.sorted_tables if table.name in by_table]
    categories = []
    for category, label in CATEGORIES.items():
        holding = [t for t in tables if category in t["categories"]]
        if holding:
            categories.append({
                "category": category, "label": label, "tables": [t["table"] for t in holding],
                "records": sum(t["records"] for t in holding),
                "subprocessors": [entry.name for entry in register if transfers.receives(entry, [category])],
            })
    due = tenant.purge_due_on
    return {
        "generated_at": clock.now().isoformat(),
        "tenant": {"slug": tenant.slug, "name": tenant.name, "status": tenant.status, "region": tenant.region,
                   "region_name": transfers.REGION_NAMES[tenant.region]},
        "terms": {"contract_start": tenant.contract_start.isoformat(),
                  "contract_end": tenant.contract_end.isoformat() if tenant.contract_end else None,
                  "retain_after_end": tenant.retain_after_end, "usage_retention": tenant.usage_retention,
                  "end_action": tenant.end_action, "purge_due_on": due.isoformat() if due else None},
        "categories": categories,
        "tables": tables,
        "subprocessors": [transfers.describe(entry) for entry in register],
        "transfers": [transfers.transfer(entry, tenant.region) for entry in register
                      if transfers.is_transfer(entry, tenant.region)],
    }
