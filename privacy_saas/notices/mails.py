"""The text of the mails notices send: plain, self-contained, no personal data of data subjects."""
from __future__ import annotations

import json

from flask import current_app

from privacy_saas.notices.models import Notice
from privacy_saas.processor.tenants.models import Tenant

LABELS = {
    "name": "Sub-processor", "purpose": "Purpose", "country": "Country (ISO 3166-1)", "location": "Location",
    "transfer_mechanism": "Transfer mechanism",
    "data_categories": "Data categories", "replaces": "Replaces", "effective_on": "Takes effect on",
    "occurred_at": "Occurred", "aware_at": "We became aware", "nature": "Nature of the breach",
    "subject_categories": "Categories of data subjects", "approx_subjects": "Approximate number of data subjects",
    "approx_records": "Approximate number of records", "consequences": "Likely consequences",
    "measures": "Measures taken", "measures_proposed": "Measures proposed", "contact": "Contact for more information",
}


def _lines(content: dict, keys) -> str:
    out = []
    for key in keys:
        value = content.get(key)
        if value in (None, "", []):
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        out.append(f"  {LABELS[key] + ':':<38} {value}")
    return "\n".join(out)


def _where(notice: Notice) -> str:
    base = current_app.config.get("PUBLIC_URL")
    console = f"your console ({base.rstrip('/')}/console/t/notices)" if base else "your console (Notices)"
    return f"{console}, or the API (POST /api/v1/notices/{notice.id}/...)"


def dpo_contact() -> str:
    """Return the vendor's contact point for privacy questions (Art. 33(3)(b)): its DPO, as the records name it."""
    config = current_app.config
    return config.get("VENDOR_DPO") or config.get("VENDOR_CONTACT") or "your account manager"


def notice_mail(notice: Notice, tenant: Tenant) -> tuple[str, str]:
    """Return the subject and body of `notice`."""
    content = notice.content
    if notice.kind == "subprocessor_change":
        subject = f"[{tenant.name}] Sub-processor change: {content['title']}"
        body = (f"We intend to change the sub-processors that process personal data on behalf of {tenant.name} "
                f"(GDPR Art. 28(2)).\n\n"
                f"{_lines(content, ('name', 'replaces', 'purpose', 'country', 'location', 'transfer_mechanism', 'data_categories', 'effective_on'))}\n\n"
                f"You may acknowledge this change or object to it, with your reasons, until {content['answer_by']} "
                f"in {_where(notice)}.\n")
    elif notice.phase == 1:
        subject = f"[{tenant.name}] Personal data breach notification"
        body = (f"We are notifying {tenant.name}, as the controller, of a personal data breach concerning data we "
                f"process on your behalf (GDPR Art. 33(2)).\n\n"
                f"{_lines(content, ('occurred_at', 'aware_at', 'nature', 'data_categories', 'subject_categories', 'approx_subjects', 'approx_records', 'consequences', 'measures', 'measures_proposed', 'contact'))}\n\n"
                "We will send further information as it becomes available (Art. 33(4)). "
                f"Please acknowledge receipt in {_where(notice)}.\n")
    else:
        subject = f"[{tenant.name}] Personal data breach: update {notice.phase - 1}"
        changed = content.get("changes") or {}
        body = (f"Further information on the personal data breach we notified on {content['first_notice_on']} "
                f"(GDPR Art. 33(4)).\n\n{content['summary']}\n\n"
                f"{_lines(changed, [k for k in LABELS if k in changed])}\n\n"
                f"Please acknowledge receipt in {_where(notice)}.\n")
    return subject, body + f"\nNotice {notice.id}. This notice holds no personal data of data subjects.\n"


def withdrawal_mail(notice: Notice, tenant: Tenant, reason: str) -> tuple[str, str]:
    """Return the mail telling a tenant an announced change is withdrawn."""
    content = notice.content
    return (f"[{tenant.name}] Sub-processor change withdrawn: {content['title']}",
            f"The sub-processor change we announced on {notice.sent_at:%Y-%m-%d} ({content['title']}, "
            f"to take effect on {content['effective_on']}) is withdrawn: {reason}\n\n"
            f"Nothing changes for {tenant.name}.\n\nNotice {notice.id}.\n")


def certificate_mail(tenant: Tenant, document: dict) -> tuple[str, str]:
    """Return the mail carrying a purged tenant's signed deletion certificate."""
    base = current_app.config.get("PUBLIC_URL")
    key_url = f"{base.rstrip('/')}/api/v1/signing-key" if base else "/api/v1/signing-key on our API"
    return (f"[{tenant.name}] Deletion certificate",
            f"The post-contract purge of the personal data we processed for {tenant.name} is complete "
            "(GDPR Art. 28(3)(g)). Below is the signed deletion certificate: what was erased, when, and "
            f"the data keys destroyed.\n\nIts Ed25519 signature verifies with our public key ({key_url}): save the "
            "JSON below as certificate.json and the key as signing-key.pem, then run `privacy-saas certificates "
            "verify certificate.json --public-key signing-key.pem`.\n\n"
            f"{json.dumps(document, indent=2, sort_keys=True)}\n")
