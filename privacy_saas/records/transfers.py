"""Which sub-processors receive which data, and when that is a transfer to a third country."""
from __future__ import annotations

from privacy_saas.subprocessors import service as subprocessors
from privacy_saas.subprocessors.models import Subprocessor

#: The EEA: the EU's 27 members and Iceland, Liechtenstein, Norway (GDPR Chapter V counts from its border).
EEA = frozenset({
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV", "LT", "LU",
    "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO"})
#: Where data of each residency region may be processed without leaving it.
REGION_COUNTRIES: dict[str, frozenset[str]] = {"eu": EEA, "uk": frozenset({"GB"}), "us": frozenset({"US"})}
REGION_NAMES = {"eu": "the EEA", "uk": "the United Kingdom", "us": "the United States"}


def register(scope: str) -> list[Subprocessor]:
    """Return the sub-processors in the register now that receive data of `scope` (or are not classified)."""
    return [entry for entry in subprocessors.list_subprocessors()
            if not entry.scopes or scope in entry.scopes]


def serves(entry: Subprocessor, region: str) -> bool:
    """Return whether the sub-processor processes data of tenants in `region`."""
    return not entry.tenant_regions or region in entry.tenant_regions


def receives(entry: Subprocessor, categories) -> bool:
    """Return whether the sub-processor receives any of `categories` (an unclassified one may receive any)."""
    # A category given in words the data map does not know ("Voice recordings") may be any of them.
    return (not entry.data_categories or bool(entry.data_category_labels)
            or bool(set(entry.data_categories) & set(categories)))


def is_transfer(entry: Subprocessor, region: str) -> bool:
    """Return whether data of `region` goes to a third country with this sub-processor.

    An entry without a country counts as one: the record must show it until someone records where it is.
    """
    return entry.country is None or entry.country not in REGION_COUNTRIES[region]


def describe(entry: Subprocessor) -> dict:
    """Return a register entry as the records print it."""
    return {
        "id": str(entry.id), "name": entry.name, "purpose": entry.purpose, "location": entry.location,
        "country": entry.country, "safeguards": entry.safeguards,
        "scopes": list(entry.scopes) or ["not classified"],
        "data_categories": [*entry.data_categories, *entry.data_category_labels] or ["not classified"],
        "tenant_regions": list(entry.tenant_regions) or ["all"],
        "dpa_signed_on": entry.dpa_signed_on.isoformat() if entry.dpa_signed_on else None,
        "last_reviewed_on": entry.last_reviewed_on.isoformat() if entry.last_reviewed_on else None,
    }


def transfer(entry: Subprocessor, region: str) -> dict:
    """Return one transfer to a third country: where, who, what, under which safeguards."""
    return {"subprocessor": entry.name, "country": entry.country or "not recorded",
            "from": REGION_NAMES[region], "location": entry.location, "safeguards": entry.safeguards,
            "data_categories": [*entry.data_categories, *entry.data_category_labels] or ["not classified"]}
