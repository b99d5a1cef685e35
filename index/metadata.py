"""Chunk metadata as stored in Chroma, and search filters over it.

Chroma metadata values must be scalars (1.x accepts lists, but not empty ones, and older
servers accept none). So each list field is stored twice:

* `markets` / `therapy_areas` / `brands` as a comma-joined string with leading and trailing
  commas (",DE,UK,"), which round-trips the list for display;
* one boolean flag per value (`market_DE`, `ta_CARD`, `brand_cardiovex`), which is what the
  filters use: an equality test on a flag is supported by every Chroma version, local or server.

A missing wave is stored as "" because Chroma drops None values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

LIST_FLAG_PREFIXES: dict[str, str] = {
    "markets": "market_",
    "therapy_areas": "ta_",
    "brands": "brand_",
}

MetadataValue = str | int | float | bool
FilterValue = str | Iterable[str] | None


def join_list(values: Iterable[str]) -> str:
    items = [v for v in values if v]
    return f",{','.join(items)}," if items else ""


def split_list(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple):  # tolerate native list metadata written by other tools
        return tuple(str(v) for v in value if v)
    if not isinstance(value, str):
        return ()
    return tuple(v for v in value.split(",") if v)


def flag_key(field: str, value: str) -> str:
    """Metadata key of the boolean flag for one list value, e.g. ("markets", "DE") -> market_DE."""
    return LIST_FLAG_PREFIXES[field] + re.sub(r"[^A-Za-z0-9]", "_", value)


def list_metadata(field: str, values: Iterable[str]) -> dict[str, MetadataValue]:
    values = tuple(values)
    out: dict[str, MetadataValue] = {field: join_list(values)}
    for value in values:
        out[flag_key(field, value)] = True
    return out


def _normalise(value: FilterValue, norm: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(norm(str(v).strip()) for v in items if str(v).strip()))


@dataclass(frozen=True)
class Filters:
    """Metadata restrictions for a search. Each field is any-of; fields combine with AND.

    Values are normalised the way the corpus is: markets and therapy areas upper case, brands
    and doc types lower case, waves like "2025-Q4".
    """

    doc_types: tuple[str, ...] = ()
    waves: tuple[str, ...] = ()
    markets: tuple[str, ...] = ()
    brands: tuple[str, ...] = ()
    therapy_areas: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        *,
        doc_type: FilterValue = None,
        wave: FilterValue = None,
        market: FilterValue = None,
        brand: FilterValue = None,
        therapy_area: FilterValue = None,
    ) -> Filters:
        return cls(
            doc_types=_normalise(doc_type, str.lower),
            waves=_normalise(wave, str.upper),
            markets=_normalise(market, str.upper),
            brands=_normalise(brand, str.lower),
            therapy_areas=_normalise(therapy_area, str.upper),
        )

    def is_empty(self) -> bool:
        return not (self.doc_types or self.waves or self.markets or self.brands
                    or self.therapy_areas)

    def _flag_groups(self) -> list[tuple[str, ...]]:
        return [
            tuple(flag_key("markets", v) for v in self.markets),
            tuple(flag_key("brands", v) for v in self.brands),
            tuple(flag_key("therapy_areas", v) for v in self.therapy_areas),
        ]

    def to_where(self) -> dict[str, Any] | None:
        """The equivalent Chroma `where` clause (None when there is nothing to filter)."""
        clauses: list[dict[str, Any]] = []
        for key, values in (("doc_type", self.doc_types), ("wave", self.waves)):
            if len(values) == 1:
                clauses.append({key: values[0]})
            elif values:
                clauses.append({key: {"$in": list(values)}})
        for flags in self._flag_groups():
            options = [{flag: True} for flag in flags]
            if len(options) == 1:
                clauses.append(options[0])
            elif options:
                clauses.append({"$or": options})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def matches(self, metadata: Mapping[str, Any]) -> bool:
        """Same semantics as `to_where`, evaluated in Python (used for BM25)."""
        if self.doc_types and metadata.get("doc_type") not in self.doc_types:
            return False
        if self.waves and metadata.get("wave") not in self.waves:
            return False
        return all(
            not flags or any(metadata.get(flag) is True for flag in flags)
            for flags in self._flag_groups()
        )
