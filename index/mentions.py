"""Narrow a document's markets, therapy areas and brands to those one passage is about.

A wave report covers every market and brand of the wave, so document-level lists would make
a `market="DE"` filter match every passage of it. A passage's lists are therefore the
document's values that the passage (heading path or text) mentions, by code or by name; a
passage that mentions none of them (a methodology note inside a report) keeps the whole
document's list, because it applies to all of them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

# Names a writer uses for a market; codes are matched too (upper case, as whole words).
MARKET_NAMES: Mapping[str, tuple[str, ...]] = {
    "DE": ("germany", "german"),
    "FR": ("france", "french"),
    "UK": ("united kingdom", "britain", "british"),
    "ES": ("spain", "spanish"),
    "IT": ("italy", "italian"),
    "NL": ("netherlands", "dutch"),
    "BE": ("belgium", "belgian"),
    "AT": ("austria", "austrian"),
    "CH": ("switzerland", "swiss"),
    "PL": ("poland", "polish"),
    "SE": ("sweden", "swedish"),
    "JP": ("japan", "japanese"),
}

THERAPY_AREA_NAMES: Mapping[str, tuple[str, ...]] = {
    "ONC": ("oncology", "oncologist", "oncologists", "lung cancer", "pulmonologist",
            "pulmonologists"),
    "CARD": ("cardiology", "cardiologist", "cardiologists", "heart failure"),
    "IMM": ("immunology", "psoriasis", "dermatologist", "dermatologists", "rheumatologist",
            "rheumatologists"),
}


@lru_cache(maxsize=512)
def _pattern(value: str, names: tuple[str, ...], code_case_sensitive: bool) -> re.Pattern[str]:
    terms = [re.escape(n) for n in names]
    if code_case_sensitive:
        # Codes such as DE or IT are ordinary words in lower case; only upper case counts.
        code = rf"(?-i:\b{re.escape(value)}\b)"
    else:
        code = rf"\b{re.escape(value)}\b"
    body = "|".join([code, *(rf"\b{t}\b" for t in terms)])
    return re.compile(body, re.IGNORECASE)


def _narrow(
    values: tuple[str, ...], text: str, names: Mapping[str, tuple[str, ...]], codes_upper: bool
) -> tuple[str, ...]:
    if len(values) <= 1:
        return values
    hits = tuple(
        v for v in values if _pattern(v, tuple(names.get(v, ())), codes_upper).search(text)
    )
    return hits or values


def narrow_scope(
    section: str,
    text: str,
    markets: tuple[str, ...],
    therapy_areas: tuple[str, ...],
    brands: tuple[str, ...],
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(markets, therapy_areas, brands) of the passage `text` under heading path `section`.

    Therapy areas are read from the heading path only: passages name specialties and
    diseases in passing (a debrief about an oncology brand may mention psoriasis), while a
    heading such as "Cardiology verbatims" reliably states the area. Over-inclusion only costs
    a little precision; leaving out a value would hide the passage from a filter.
    """
    both = f"{section}\n{text}"
    return (
        _narrow(markets, both, MARKET_NAMES, codes_upper=True),
        _narrow(therapy_areas, section, THERAPY_AREA_NAMES, codes_upper=True),
        # Brand ids are the brand names in lower case ("cardiovex" for Cardiovex).
        _narrow(brands, both, {}, codes_upper=False),
    )
