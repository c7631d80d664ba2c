"""The words of the data map: scopes, data subjects, categories, purposes, lawful bases.

Each is a closed list: an annotation using any other value fails the data-map test, and the
Art. 30 records print the labels given here.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Which role the vendor holds the data in.
SCOPES: dict[str, str] = {
    "processor": "Processor: held for a tenant (the controller), on its documented instructions (Art. 28)",
    "controller": "Controller: the vendor's own sales, marketing, website, billing and data-subject records",
    "operational": "Operational: what running the service needs (staff accounts, keys, audit, offboarding)",
}

#: Whose data it is.
SUBJECTS: dict[str, str] = {
    "registered_user": "Registered users of a tenant (the client's employees)",
    "contact": "Sales and marketing contacts of the vendor",
    "staff": "Vendor staff",
    "website_visitor": "Visitors of the vendor's website",
    "requester": "People who make a data-subject request (they may be in neither scope)",
    "client_contact": "Privacy and DPO contacts a tenant names to receive the vendor's notices",
    "none": "No natural person",
}

#: What kind of data it is.
CATEGORIES: dict[str, str] = {
    "identity": "Identity (name, job title, employer)",
    "contact_details": "Contact details (e-mail address, phone number)",
    "credentials": "Credentials (password hashes, sign-in secrets)",
    "record_state": "Record state (role, status, flags and dates of a person's record)",
    "usage": "Usage and behaviour (sessions, navigation, reports and downloads, e-mail opens and clicks)",
    "support": "Support correspondence",
    "consent": "Consent, objections and marketing preferences",
    "billing": "Billing",
    "technical_ids": "Technical identifiers (ids, cookie ids, keyed hashes, IP addresses)",
    "none": "Not personal data",
}

#: Everyday words for the categories, as a contract, a sub-processor's DPA or a person writes them. Matched
#: whole, after `_plain` (case, punctuation, plurals and filler such as "data" do not count).
CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "identity": ("name", "full name", "first name", "last name", "surname", "given name", "family name",
                 "display name", "username", "job title", "title", "employer", "company", "identification"),
    "contact_details": ("contact", "contact details", "email", "e mail", "email address", "e mail address",
                        "mail address",
                        "phone", "phone number", "telephone", "mobile", "postal address", "address"),
    "credentials": ("credential", "password", "password hash", "authentication", "login", "sign in", "secret",
                    "mfa"),
    "record_state": ("account", "account status", "user account", "status", "role", "group membership", "profile"),
    "usage": ("usage", "behaviour", "behavior", "activity", "navigation", "session", "log", "usage log",
              "analytics", "telemetry", "click", "email open", "download", "report"),
    "support": ("support", "support ticket", "ticket", "support request", "correspondence", "helpdesk"),
    "consent": ("consent", "preference", "marketing preference", "objection", "opt out", "subscription"),
    "billing": ("billing", "invoice", "payment", "financial", "bank", "billing address"),
    "technical_ids": ("technical identifier", "technical id", "identifier", "id", "ip", "ip address", "cookie",
                      "cookie id", "device id", "device identifier", "online identifier", "user agent", "hash"),
}

_FILLER = {"data", "information", "info", "personal", "the", "of", "and", "s"}
#: Plurals the rules below would get wrong.
_SINGULAR = {"cookies": "cookie"}


def _plain(word: str) -> str:
    """Return `word` as the table compares it: lower case, words only, no filler, each word singular."""
    words = []
    for part in "".join(c if c.isalnum() else " " for c in word.casefold()).split():
        if part in _FILLER:
            continue
        if part in _SINGULAR:
            part = _SINGULAR[part]
        elif part.endswith("ies") and len(part) > 4:
            part = part[:-3] + "y"
        elif part.endswith(("sses", "shes", "ches")):
            part = part[:-2]
        elif part.endswith("s") and not part.endswith("ss") and len(part) > 3:
            part = part[:-1]
        words.append(part)
    return " ".join(words)


_CATEGORY_OF: dict[str, str] = {
    _plain(word): name
    for name in CATEGORIES if name != "none"
    for word in (name, CATEGORIES[name], CATEGORIES[name].split(" (")[0], *CATEGORY_WORDS.get(name, ()))
}


def classify(words) -> tuple[list[str], list[str]]:
    """Split free-text category words into the data-map categories they name and the words that name none.

    Returns (categories, labels): `["E-mail addresses", "IP", "Voice recordings"]` gives
    `(["contact_details", "technical_ids"], ["Voice recordings"])`. Labels keep their spelling (trimmed),
    first occurrence first; "not personal data" words name nothing and are dropped.
    """
    categories, labels, seen = set(), [], set()
    for word in words:
        text = " ".join(str(word).split())
        name = _CATEGORY_OF.get(_plain(text))
        if name is not None:
            categories.add(name)
        elif text and _plain(text) not in ("none", "not", "no") and text.casefold() not in seen:
            seen.add(text.casefold())
            labels.append(text)
    return sorted(categories), labels


#: Art. 6(1) bases, for the data the vendor holds as controller.
LAWFUL_BASES: dict[str, str] = {
    "consent": "Consent (Art. 6(1)(a))",
    "contract": "Contract (Art. 6(1)(b))",
    "legal_obligation": "Legal obligation (Art. 6(1)(c))",
    "legitimate_interest": "Legitimate interests (Art. 6(1)(f))",
}


@dataclass(frozen=True)
class Purpose:
    """Why data is processed: one line of the Art. 30 record."""

    scope: str
    label: str
    description: str


PURPOSES: dict[str, Purpose] = {
    # Processor: on each tenant's instructions (its contract and its admins' actions).
    "user_accounts": Purpose(
        "processor", "User accounts",
        "Accounts of the tenant's users in the web application: sign-in, roles, groups, invitations, "
        "provisioning from the tenant's identity provider (SCIM)"),
    "usage_records": Purpose(
        "processor", "Usage records",
        "Records of the use of the web application (sessions, navigation, reports and downloads, e-mail "
        "deliverability, opens and clicks) for the tenant's reporting and user adoption"),
    "user_support": Purpose(
        "processor", "Support", "Support requests of the tenant's users and their resolution"),
    "return_export": Purpose(
        "processor", "Return of data",
        "Returning all of the tenant's data at the end of the contract (Art. 28(3)(g))"),
    "notice_recipients": Purpose(
        "processor", "Notice recipients",
        "The privacy contacts the tenant names, to whom the vendor sends what it owes the tenant as its processor: "
        "sub-processor changes, breach notifications, the deletion certificate"),
    # Controller: the vendor decides.
    "marketing": Purpose(
        "controller", "Sales and marketing",
        "Business development: contacting prospective and current clients' staff about the vendor's services"),
    "consent_evidence": Purpose(
        "controller", "Consent records",
        "Proving when and how consent to marketing was given or withdrawn (Art. 7(1))"),
    "suppression": Purpose(
        "controller", "Do-not-contact list",
        "Making sure a person who unsubscribed, objected or was erased is never contacted or imported again"),
    "website_analytics": Purpose(
        "controller", "Website analytics", "Measuring the use of the vendor's website"),
    "billing": Purpose(
        "controller", "Billing", "Invoicing clients and keeping invoices as accounting law requires"),
    "data_subject_rights": Purpose(
        "controller", "Data-subject requests",
        "Receiving, routing, answering and evidencing data-subject requests within their deadlines "
        "(Art. 12-22); processor-scope requests are forwarded to the tenant as instructions"),
    # Operational: running the service.
    "tenant_contracts": Purpose(
        "operational", "Client contracts",
        "Each tenant's contract terms: dates, region, retention after contract end, end action"),
    "staff_access": Purpose(
        "operational", "Staff access", "Staff accounts of the console and API: sign-in, roles, lockout"),
    "api_access": Purpose(
        "operational", "API access", "Bearer tokens of staff members and tenants for the API"),
    "accountability": Purpose(
        "operational", "Audit trail",
        "Who did what, when, on whose instruction: hash-chained audit entries (Art. 5(2), 28(3)(a), 32)"),
    "key_management": Purpose(
        "operational", "Key management", "Data keys (stored wrapped), their rotation and destruction"),
    "offboarding": Purpose(
        "operational", "Offboarding",
        "Contract end, legal holds, the post-contract purge and its signed deletion certificate"),
    "retention_enforcement": Purpose(
        "operational", "Retention enforcement", "Runs and reports of the retention sweeps"),
    "background_work": Purpose(
        "operational", "Background work",
        "The durable record of work owed by a change (purges, exports, retention sweeps, key rotations: ids "
        "only) and the liveness of the workers that do it"),
    "vendor_register": Purpose(
        "operational", "Sub-processor register", "The sub-processors the vendor engages (Art. 28(2))"),
    "client_notices": Purpose(
        "operational", "Notices to clients",
        "What the vendor told each client and when: sub-processor changes with their objection window "
        "(Art. 28(2), (4)), breach notifications with their deadlines (Art. 33(2)), the deletion certificate; "
        "the clients' answers and the tasks their objections raise"),
    "breach_register": Purpose(
        "operational", "Breach register",
        "Personal data breaches: the facts, their effects, the remedial action, the notifications and the "
        "decisions taken (Art. 33(5), 34)"),
}
