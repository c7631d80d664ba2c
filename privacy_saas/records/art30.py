"""The Art. 30 records of processing, generated from the data map, the sub-processor register and the tenants.

`processor_record()` is the record the vendor keeps as processor (Art. 30(2)): each controller
(tenant) with its contacts, the categories of processing carried out for it, its transfers to third
countries and the measures. `controller_record()` is the record of the vendor's own processing
(Art. 30(1)): purposes, lawful bases, categories of data subjects and data, recipients, transfers,
retention periods and measures. Both are plain data; `formats` renders them.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from privacy_saas import clock
from privacy_saas.controller.retention import rules as controller_retention
from privacy_saas.datamap import catalogue, retention
from privacy_saas.datamap.catalogue import ColumnEntry
from privacy_saas.datamap.vocabulary import CATEGORIES, LAWFUL_BASES, PURPOSES, SUBJECTS
from privacy_saas.errors import AppError
from privacy_saas.extensions import db
from privacy_saas.lifecycle.models import DeletionCertificate
from privacy_saas.processor.privacy_contacts import service as contacts
from privacy_saas.processor.tenants import service as tenants
from privacy_saas.processor.tenants.gates import HOLDING
from privacy_saas.processor.tenants.models import REGIONS, Tenant
from privacy_saas.records import transfers
from privacy_saas.records.measures import measures
from privacy_saas.version import __version__

RECORD_SCOPES = ("processor", "controller")
#: The scopes the vendor is controller of: its own data and what running the service needs.
CONTROLLER_SCOPES = ("controller", "operational")


class RecordConfigError(AppError):
    status = 500
    code = "records_misconfigured"


def privacy_contacts(tenant: Tenant) -> list[str]:
    """Return the tenant's privacy/DPO contacts (its tenant file's and those its admins added).

    The record is read by the vendor's DPO and admins, who must be able to reach each controller's
    contacts (Art. 30(2)(a)): the addresses are decrypted under the tenant's key. A tenant being purged
    is still listed as a controller; its contacts are being erased, so none is shown. Sorted, so the
    record reads the same each time.
    """
    if tenant.status not in HOLDING:
        return []
    return sorted(contact.email for contact in contacts.list_for(tenant))


def _column(entry: ColumnEntry) -> dict:
    d = entry.declaration
    return {"table": entry.table, "column": entry.column, "encrypted": entry.encrypted,
            "data_subjects": list(d.subjects), "retention": list(d.retention),
            "plaintext_because": None if entry.encrypted else d.plaintext_because}


def activities(entries: list[ColumnEntry], scopes) -> list[dict]:
    """Return one processing activity per purpose of `scopes`: its subjects and categories, with their columns."""
    found = []
    for name, purpose in PURPOSES.items():
        if purpose.scope not in scopes:
            continue
        columns = [e for e in entries if e.personal and e.declaration.purpose == name]
        if not columns:
            continue
        by_category = {category: [_column(e) for e in columns if category in e.declaration.categories]
                       for category in CATEGORIES}
        found.append({
            "purpose": name, "label": purpose.label, "description": purpose.description, "scope": purpose.scope,
            "data_subjects": [{"name": s, "label": SUBJECTS[s]} for s in SUBJECTS
                              if any(s in e.declaration.subjects for e in columns)],
            "data_categories": [{"category": c, "label": CATEGORIES[c], "columns": cols}
                                for c, cols in by_category.items() if cols],
            "lawful_basis": [{"name": b, "label": LAWFUL_BASES[b]} for b in LAWFUL_BASES
                             if any(b in e.declaration.lawful_basis for e in columns)],
            "retention": sorted({rule for e in columns for rule in e.declaration.retention},
                                key=list(retention.RULES).index),
        })
    return found


def _rule(rule: retention.RetentionRule, period: str | None, switched_off: bool = False) -> dict:
    return {"name": rule.name, "scope": rule.scope, "summary": rule.summary,
            "period": "switched off: kept until erased by hand" if switched_off else (period or "no fixed period"),
            "configured_by": rule.configured_by, "enforced_by": list(rule.enforced_by) or ["nothing: see summary"],
            "erased_by_purge": rule.erased_by_purge}


def _rules(names) -> list[dict]:
    configured = controller_retention.periods()
    swept = {rule.name for rule in controller_retention.enforced_rules()}
    found = []
    for name in retention.RULES:
        if name not in names:
            continue
        rule = retention.RULES[name]
        if name in swept:
            found.append(_rule(rule, configured.get(name), switched_off=configured.get(name) is None))
        else:
            found.append(_rule(rule, rule.default_period))
    return found


def _party() -> dict:
    config = current_app.config
    region = config.get("VENDOR_REGION")
    if region not in REGIONS:
        raise RecordConfigError(f"PRIVACY_SAAS_VENDOR_REGION is {region!r}; it must be one of {', '.join(REGIONS)}")
    missing = "not configured (set PRIVACY_SAAS_{})"
    return {
        "name": config.get("VENDOR_NAME") or missing.format("VENDOR_NAME"),
        "contact": config.get("VENDOR_CONTACT") or missing.format("VENDOR_CONTACT"),
        "dpo": config.get("VENDOR_DPO") or missing.format("VENDOR_DPO"),
        "representative": config.get("VENDOR_REPRESENTATIVE") or "none",
        "region": region,
    }


def _header(kind: str, article: str, entries: list[ColumnEntry]) -> dict:
    return {"record": kind, "article": article, "generated_at": clock.now().isoformat(),
            "software": f"privacy_saas {__version__}",
            "data_map": {"digest": catalogue.digest(entries), "columns": len(entries),
                         "personal_columns": sum(e.personal for e in entries),
                         "encrypted_columns": sum(e.encrypted for e in entries)}}


def _tenant_terms(tenant: Tenant) -> dict:
    due = tenant.purge_due_on
    return {
        "retain_after_end": tenant.retain_after_end, "usage_retention": tenant.usage_retention,
        "end_action": tenant.end_action, "self_service_deletion": tenant.self_service_deletion,
        "purge_due_on": due.isoformat() if due else None,
    }


def processor_record() -> dict:
    """Return the record of the processing carried out for each tenant (Art. 30(2))."""
    entries = catalogue.entries()
    processing = activities(entries, {"processor"})
    register = transfers.register("processor")
    certificates = dict(db.session.execute(sa.select(DeletionCertificate.tenant_id, DeletionCertificate.id)).all())
    controllers, former = [], []
    for tenant in tenants.list_all():
        if tenant.status == "purged":
            certificate = certificates.get(tenant.id)
            former.append({"slug": tenant.slug, "name": tenant.name, "region": tenant.region,
                           "purged_at": tenant.purged_at.isoformat() if tenant.purged_at else None,
                           "certificate_id": str(certificate) if certificate else None})
            continue
        serving = [entry for entry in register if transfers.serves(entry, tenant.region)]
        controllers.append({
            "id": str(tenant.id), "slug": tenant.slug, "name": tenant.name, "region": tenant.region,
            "status": tenant.status, "privacy_contacts": privacy_contacts(tenant),
            "contract_start": tenant.contract_start.isoformat(),
            "contract_end": tenant.contract_end.isoformat() if tenant.contract_end else None,
            "terms": _tenant_terms(tenant),
            "processing": [activity["purpose"] for activity in processing],
            "subprocessors": [entry.name for entry in serving],
            "transfers": [transfers.transfer(entry, tenant.region) for entry in serving
                          if transfers.is_transfer(entry, tenant.region)],
        })
    return {
        **_header("processor", "GDPR Art. 30(2)", entries),
        "processor": _party(),
        "controllers": controllers,
        "former_controllers": former,
        "processing": processing,
        "subprocessors": [transfers.describe(entry) for entry in register],
        "retention": _rules({rule for a in processing for rule in a["retention"]}),
        "measures": measures(entries),
    }


def controller_record() -> dict:
    """Return the record of the vendor's own processing (Art. 30(1))."""
    entries = catalogue.entries()
    party = _party()
    register = transfers.register("controller")
    found = activities(entries, CONTROLLER_SCOPES)
    for activity in found:
        categories = [c["category"] for c in activity["data_categories"]]
        recipients = [entry for entry in register if transfers.receives(entry, categories)]
        activity["recipients"] = [entry.name for entry in recipients]
        activity["transfers"] = [transfers.transfer(entry, party["region"]) for entry in recipients
                                 if transfers.is_transfer(entry, party["region"])]
    return {
        **_header("controller", "GDPR Art. 30(1)", entries),
        "controller": party,
        "activities": found,
        "recipients": [transfers.describe(entry) for entry in register],
        "retention": _rules({rule for a in found for rule in a["retention"]}),
        "not_personal": sorted({e.table for e in entries} - {e.table for e in entries if e.personal}),
        "measures": measures(entries),
    }


def record(scope: str) -> dict:
    """Return the Art. 30 record of `scope` (processor or controller)."""
    if scope not in RECORD_SCOPES:
        raise AppError(f"scope must be one of {', '.join(RECORD_SCOPES)}", code="invalid_input",
                       errors={"scope": [f"must be one of {', '.join(RECORD_SCOPES)}"]})
    return processor_record() if scope == "processor" else controller_record()

