"""Countries as people name them, to the ISO 3166-1 alpha-2 codes the register keeps.

pycountry carries ISO 3166 (Debian's iso-codes): codes, names, official and common names. The
aliases below are the usual names ISO does not list.
"""
from __future__ import annotations

import pycountry

#: Names in common use that ISO 3166 does not give (the EU's own codes for the UK and Greece among them).
ALIASES: dict[str, str] = {
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "el": "GR", "russia": "RU", "turkey": "TR", "holland": "NL", "america": "US",
    "the us": "US", "the usa": "US", "the uk": "GB", "the netherlands": "NL",
}


def country_code(value: str) -> str:
    """Return the alpha-2 code of a country given by code (alpha-2 or -3) or name; ValueError if none is."""
    text = " ".join(value.split())
    alias = ALIASES.get(text.casefold())
    if alias is not None:
        return alias
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        raise ValueError(f"unknown country {text!r}: give its name (Ireland) or its ISO 3166-1 code (IE)") from None


def country_name(code: str | None) -> str | None:
    """Return the common English name of an alpha-2 code (None for none)."""
    if code is None:
        return None
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name
