"""The vocabulary of the benchmark: rule tables (lexicon.yaml) + entity names.

Entity names are never typed here: brands, companies, markets, therapy areas,
channels, segments and waves come from the engine catalogue; KPI words from the
KPI synonyms; market adjectives and TA aliases from the scenario file when there
is one. A rebuilt database with other brands therefore needs no code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RULES_FILE = Path(__file__).with_name("lexicon.yaml")
# Market codes like "it", "es", "de" are also ordinary words: only accepted in capitals.
_AMBIGUOUS_CODES = {"it", "es", "de", "us", "in", "at"}


def normalise(text: str) -> str:
    """Lower case, apostrophes and punctuation to spaces, one space between words."""
    text = text.lower().replace("’", "'").replace("'", " ")
    text = re.sub(r"[^a-z0-9%\-\s]", " ", text)
    text = re.sub(r"(?<![0-9])-|-(?![0-9qQ])", " ", text)  # keep 2025-q4, drop other hyphens
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Entity:
    slot: str  # brand | company | market | ta | channel | kpi | specialty | setting | prescriber
    id: Any
    name: str  # display name


@dataclass
class Lexicon:
    rules: dict[str, Any]
    phrases: dict[str, list[Entity]]  # normalised phrase -> entities it can name
    waves: list[dict[str, Any]]  # chronological: wave_id, wave_type, label
    kpi_light: dict[str, bool]
    names: dict[tuple[str, Any], str] = field(default_factory=dict)  # (slot, id) -> display
    brand_ta: dict[str, str] = field(default_factory=dict)
    brand_company: dict[str, str] = field(default_factory=dict)
    brand_launch: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)  # slot -> valid ids
    specialties: dict[str, list[str]] = field(default_factory=dict)  # TA -> its specialties
    # Channel groups (lexicon.yaml `channel_groups`): group id -> the channels it covers.
    channel_groups: dict[str, list[str]] = field(default_factory=dict)
    kpi_per_channel: set[str] = field(default_factory=set)  # KPIs measured per channel

    # --- construction ----------------------------------------------------
    @classmethod
    def build(cls, catalogue: Any, scenario: Path | str | None = None) -> Lexicon:
        rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
        scen = _scenario(scenario)
        lex = cls(rules=rules, phrases={}, waves=list(catalogue.waves),
                  kpi_light={k["id"]: bool(k["light"]) for k in catalogue.kpis})
        for m in catalogue.markets:
            extra = scen.get("markets", {}).get(m["market_id"], {})
            lex._add("market", m["market_id"], m["name"],
                     [m["name"], m["market_id"], *extra.get("adjectives", []),
                      *extra.get("aliases", [])])
        for t in catalogue.therapy_areas:
            extra = scen.get("therapy_areas", {}).get(t["ta_id"], {})
            lex._add("ta", t["ta_id"], t["name"],
                     [t["name"], t["ta_id"], *extra.get("aliases", [])])
        for b in catalogue.brands:
            lex._add("brand", b["brand_id"], b["name"], [b["name"], b["brand_id"]])
            lex.brand_ta[b["brand_id"]] = b["ta_id"]
            lex.brand_company[b["brand_id"]] = b["company"]
            lex.brand_launch[b["brand_id"]] = b.get("lifecycle", {})
        for c in catalogue.companies:
            lex._add("company", c, c, [c])
        aliases = rules.get("channel_aliases", {})
        for ch in catalogue.channels:
            cid = ch["channel_id"]
            lex._add("channel", cid, ch["name"], [ch["name"], cid, *aliases.get(cid, [])])
        for gid, group in (rules.get("channel_groups") or {}).items():
            lex._add("channel_group", gid, group["name"], list(group["phrases"]))
            lex.channel_groups[gid] = list(group["channels"])
        kpi_aliases = rules.get("kpi_aliases", {})
        lex.kpi_per_channel = {k["id"] for k in catalogue.kpis if k.get("requires") == "channel"}
        for k in catalogue.kpis:
            lex._add("kpi", k["id"], k["label"],
                     [k["label"], k["id"], *k["synonyms"], *kpi_aliases.get(k["id"], [])])
        for slot, values in rules.get("segments", {}).items():
            for value, words in values.items():
                vid = value if slot != "prescriber" else str(value).lower() == "true"
                lex._add(slot, vid, str(value), list(words))
        lex.options = {
            "market": [m["market_id"] for m in catalogue.markets],
            "brand": [b["brand_id"] for b in catalogue.brands],
            "ta": [t["ta_id"] for t in catalogue.therapy_areas],
            "company": list(catalogue.companies),
            "wave": [w["wave_id"] for w in catalogue.waves],
            "channel": [c["channel_id"] for c in catalogue.channels],
            "kpi": [k["id"] for k in catalogue.kpis],
            "setting": list((getattr(catalogue, "segments", None) or {}).get("setting", [])),
        }
        lex.specialties = {ta: list(s)
                           for ta, s in (getattr(catalogue, "specialties_by_ta", None)
                                         or {}).items()}
        return lex

    def _add(self, slot: str, id_: Any, name: str, words: list[str]) -> None:
        self.names[(slot, id_)] = name
        ent = Entity(slot, id_, name)
        for w in words:
            key = normalise(str(w))
            if not key or (slot == "market" and key in _AMBIGUOUS_CODES):
                continue
            bucket = self.phrases.setdefault(key, [])
            if ent not in bucket:
                bucket.append(ent)

    # --- names -----------------------------------------------------------
    def name(self, slot: str, id_: Any) -> str:
        return self.names.get((slot, id_), str(id_))

    def first_wave(self, kpi: str | None, brands: list[str], markets: list[str]
                   ) -> str | None:
        """The first wave carrying the KPI in which every brand named is rated (launched) in
        every market named."""
        for w in self.waves_for(kpi):
            if not any(self.brand_launch.get(b, {}).get(m, {}).get(w) == "prelaunch"
                       for b in brands for m in markets):
                return w
        return None

    def launched(self, brand: str, market: str, wave: str) -> bool:
        return self.brand_launch.get(brand, {}).get(market, {}).get(wave) != "prelaunch"

    def market_codes(self) -> list[str]:
        return self.options.get("market", [])

    # --- waves -----------------------------------------------------------
    def wave_ids(self) -> list[str]:
        return [w["wave_id"] for w in self.waves]

    def carries(self, wave: str, kpi: str | None) -> bool:
        w = next((x for x in self.waves if x["wave_id"] == wave), None)
        if w is None:
            return False
        return w["wave_type"] != "light" or kpi is None or self.kpi_light.get(kpi, True)

    def waves_for(self, kpi: str | None) -> list[str]:
        """Waves that carry the KPI, chronological (light waves carry headline KPIs only)."""
        return [w for w in self.wave_ids() if self.carries(w, kpi)]

    def latest(self, kpi: str | None) -> str | None:
        ws = self.waves_for(kpi)
        return ws[-1] if ws else None

    def previous(self, wave: str, kpi: str | None) -> str | None:
        """The wave before `wave` that carries the KPI."""
        order = self.wave_ids()
        if wave not in order:
            return None
        before = [w for w in order[:order.index(wave)] if self.carries(w, kpi)]
        return before[-1] if before else None

    def waves_since(self, year: int, kpi: str | None) -> list[str]:
        return [w for w in self.waves_for(kpi) if int(w[:4]) >= year]

    def waves_from(self, wave: str, kpi: str | None) -> list[str]:
        """The waves carrying the KPI from `wave` (included) on."""
        order = self.wave_ids()
        return [w for w in self.waves_for(kpi) if order.index(w) >= order.index(wave)]

    def last_waves(self, n: int, kpi: str | None) -> list[str]:
        """The last n waves carrying the KPI."""
        return self.waves_for(kpi)[-n:] if n > 0 else []

    def waves_in_year(self, year: int) -> list[str]:
        return [w for w in self.wave_ids() if w.startswith(str(year))]

    def light_waves(self) -> list[str]:
        return [w["wave_id"] for w in self.waves if w["wave_type"] == "light"]

    # --- brands ----------------------------------------------------------
    def brands_for(self, *, ta: str | None = None, company: str | None = None,
                   markets: list[str] | None = None, waves: list[str] | None = None
                   ) -> list[str]:
        """The brands that fit what is known: of the TA, of the company, and rated (launched)
        in the markets and waves named."""
        def fits(b: str) -> bool:
            if (ta and self.brand_ta.get(b) != ta) or (
                    company and self.brand_company.get(b) != company):
                return False
            stages = self.brand_launch.get(b, {})
            return not any(stages.get(m, {}).get(w) == "prelaunch"
                           for m in markets or [] for w in waves or [])
        return [b for b in self.options.get("brand", []) if fits(b)]


def _scenario(path: Path | str | None) -> dict[str, dict[str, Any]]:
    """Market adjectives and TA aliases from the scenario file; empty when there is none."""
    if path is None or not Path(path).exists():
        return {}
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {"markets": {m["market_id"]: m for m in raw.get("markets", [])},
            "therapy_areas": {t["ta_id"]: t for t in raw.get("therapy_areas", [])}}
