"""Intent -> engine call, retrieval, or both; the defaults each analysis needs.

`Router.complete` fills what a question left out (latest wave carrying the KPI,
TA from the brand, the previous wave for a "why") and records each assumption
in `query.defaults`; when a slot cannot be assumed (a brand KPI without market)
it sets `query.clarify` with the valid options instead. `Router.run` then calls
the engine and/or the documents (documents.py: the retriever is built on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.documents import Documents
from assistant.lexicon import Lexicon
from assistant.query import Clarify, Compare, Query
from cxengine.kpis import catalogue as kpi_catalogue

NUMERIC = ("kpi_value", "ranking", "trend", "compare", "explain_change", "channel_mix",
           "key_drivers", "perception_gap", "correlation")
DOCUMENT = ("definition", "methodology")
DEFAULT_KPI = "nps"
_DRIVER_KPI = "driver:knowledge"  # any driver: carried by full waves only
INTERNAL_KPIS = ("nps", "csat_t2b", "cx_index")  # the KPIs companies estimate internally
# Which slots each numeric intent cannot do without (brand/company count as one).
REQUIRED: dict[str, tuple[str, ...]] = {
    "kpi_value": ("subject", "market"), "trend": ("subject", "market"),
    "ranking": ("ta", "market"), "compare": ("market",),
    "explain_change": ("brand", "market"), "channel_mix": ("brand", "market"),
    "key_drivers": ("ta",),
}


def breakdown_dims(q: Query) -> list[str]:
    """What a value is broken down by: the dimensions asked for, plus the channel for a
    channel KPI asked without one (the engine measures those per channel)."""
    dims = list(q.by)
    kpi = kpi_catalogue().get(q.kpi or "")
    if kpi is not None and kpi.requires == "channel" and not q.channel and "channel" not in dims:
        dims.append("channel")
    return dims


@dataclass
class Routed:
    query: Query
    route: str  # engine | retrieval | both | clarify | none
    result: Any = None  # cxengine Result
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the ranking behind "the leader"
    passages: list[dict[str, Any]] = field(default_factory=list)
    retrieval_warning: str | None = None


class Router:
    def __init__(self, engine: Any, lexicon: Lexicon,
                 retriever_factory: Callable[[], Any] | None = None):
        self.engine, self.lex = engine, lexicon
        self.documents = Documents(retriever_factory)

    # --- defaults and clarification --------------------------------------
    def complete(self, q: Query) -> Query:
        q = q.copy(brands=list(q.brands), markets=list(q.markets), waves=list(q.waves),
                   defaults=list(q.defaults), by=list(q.by))
        if q.clarify is not None or q.intent not in NUMERIC or q.unknown_markets or q.unknown_waves:
            return q
        if q.did_you_mean and not (q.brands or q.company):
            q.clarify = Clarify("brand", "did_you_mean", sorted(set(q.did_you_mean)))
            return q
        if q.kpi is None or q.kpi == "perception_gap":
            if q.intent not in ("key_drivers", "correlation", "channel_mix", "perception_gap"):
                q.kpi = DEFAULT_KPI
                q.defaults.append("NPS (no KPI named)")
        if q.ta is None and q.brand:
            q.ta = self.lex.brand_ta.get(q.brand)
        if q.intent == "kpi_value" and not (q.brands or q.company) and q.ta:
            q.intent = "ranking"  # "NPS in cardiology in Germany": every brand of the TA
        if q.intent == "kpi_value" and len(breakdown_dims(q)) > self.lex.rules["limits"][
                "max_breakdowns"]:
            # Cells multiply with every breakdown and most fall below the base threshold:
            # refused before any SQL runs, not cut afterwards.
            q.refusal = "too_large"
            return q
        self._resolve_waves(q)
        for slot in REQUIRED.get(q.intent, ()):
            missing = self._missing(q, slot)
            if missing is not None:
                q.clarify = missing
                return q
        if q.intent == "compare":
            return self._complete_compare(q)
        return q

    def _missing(self, q: Query, slot: str) -> Clarify | None:
        if slot == "subject" and not (q.brands or q.company):
            return Clarify("brand", "which brand", self._names("brand", self.lex.options["brand"]))
        if slot == "brand" and not q.brands:
            return Clarify("brand", "which brand", self._names("brand", self.lex.options["brand"]))
        if slot == "ta" and not q.ta:
            return Clarify("ta", "which therapy area", self._names("ta", self.lex.options["ta"]))
        if slot == "market" and not q.markets and "market" not in q.by:
            return Clarify("market", "which market",
                           self._names("market", self.lex.options["market"]))
        return None

    def _why_baseline(self, to: str | None, kpi: str | None) -> str | None:
        """The wave a "why" compares with: when `to` has driver ratings, the previous wave that
        has them too, so the change can be decomposed into driver contributions."""
        if to is None:
            return None
        if self.lex.carries(to, _DRIVER_KPI):
            return self.lex.previous(to, _DRIVER_KPI)
        return self.lex.previous(to, kpi)

    def _names(self, slot: str, ids: list[str]) -> list[str]:
        return [self.lex.name(slot, i) for i in ids]

    def _resolve_waves(self, q: Query) -> None:
        kpi = q.kpi if q.intent not in ("key_drivers", "correlation", "channel_mix") else (
            _DRIVER_KPI)
        ref = q.wave_ref or ""
        latest = self.lex.latest(kpi)
        if "wave" in q.by and q.intent == "kpi_value" and len(q.waves) != 1:
            # A KPI "by wave" is its trend: every wave, with the significance of each change.
            q.by.remove("wave")
            q.intent = "trend"
        if q.intent == "trend" or ref == "all" or ref.startswith("since:"):
            if ref.startswith("since:"):
                q.waves = self.lex.waves_since(int(ref.split(":")[1]), kpi)
            elif q.intent == "trend" and len(q.waves) < 2:
                q.waves = []  # a trend over every wave carrying the KPI
            if q.intent not in ("trend", "compare"):
                q.intent = "trend"
            return
        if ref == "latest" and not q.waves:
            q.waves = [latest] if latest else []
        if ref == "previous" and not (q.compare and q.compare.dimension == "wave"):
            base = q.wave or latest
            prev = self.lex.previous(base, kpi) if base else None
            q.waves = [prev] if prev else q.waves
            q.defaults.append(f"previous wave {prev}")
            return
        if q.intent == "explain_change":
            to = q.wave or latest
            frm = q.waves[0] if len(q.waves) >= 2 else self._why_baseline(to, q.kpi)
            q.waves = [w for w in (frm, to) if w]
            if len(q.waves) < 2 or len(set(q.waves)) < 2:
                q.defaults.append(f"no earlier wave than {to}")
            elif frm != self.lex.previous(to, q.kpi):
                q.defaults.append(f"change from the previous full wave {frm} (light waves carry "
                                  "no driver ratings to decompose)")
            else:
                q.defaults.append(f"change from the previous wave carrying the KPI, {frm}")
            return
        if q.compare and q.compare.dimension == "wave":
            return
        if q.intent in ("key_drivers", "correlation", "perception_gap") and not q.waves:
            return  # pooled over waves unless one is named
        if not q.waves:
            q.waves = [latest] if latest else []
            q.defaults.append(f"latest wave {latest}")
        elif len(q.waves) > 1 and not q.compare:
            q.waves = q.waves[-1:]

    def _complete_compare(self, q: Query) -> Query:
        c = q.compare or Compare("brand", q.brand, "leader")
        if c.dimension == "wave":
            to = q.wave if c.b == "reference" or c.b is None else c.b
            to = to or self.lex.latest(q.kpi)
            frm = c.a if c.a not in (None, "previous") else self.lex.previous(to, q.kpi)
            if len(q.waves) >= 2 and c.a == "previous":
                frm, to = q.waves[0], q.waves[-1]
            c = Compare("wave", frm, to)
            q.waves = [w for w in (frm, to) if w]
            if not (q.brands or q.company):
                q.clarify = Clarify("brand", "which brand",
                                    self._names("brand", self.lex.options["brand"]))
        elif c.dimension == "brand" and c.a is None:
            c = Compare("brand", q.brand, c.b)
            if c.a is None:
                q.clarify = Clarify("brand", "which brand",
                                    self._names("brand", self.lex.options["brand"]))
        if c.dimension == "market":
            q.markets = [c.a, c.b]
        q.compare = c
        return q

    # --- running ---------------------------------------------------------
    def run(self, q: Query) -> Routed:
        if q.refusal is not None:
            return Routed(q, "none")
        if q.clarify is not None:
            return Routed(q, "clarify")
        if q.intent in ("help", "out_of_scope", "catalogue"):
            return Routed(q, "none" if q.intent == "out_of_scope" else "engine"
                          if q.intent == "catalogue" else "none")
        if q.unknown_markets or q.unknown_waves:
            return Routed(q, "none")
        if q.intent in DOCUMENT:
            routed = Routed(q, "retrieval")
            routed.passages, routed.retrieval_warning = self.documents.methodology(q.text)
            return routed
        routed = Routed(q, "engine")
        routed.result = getattr(self, f"_{q.intent}")(q, routed)
        if q.intent == "explain_change" and len(q.waves) == 2:
            routed.route = "both"
            self._why_passages(q, routed)
        return routed

    def _filters(self, q: Query, *, wave: bool = True) -> dict[str, Any]:
        f: dict[str, Any] = {"brand": q.brands or None, "company": q.company,
                             "market": q.markets or None, "channel": q.channel,
                             "prescriber": q.prescriber, "specialty": q.specialty,
                             "setting": q.setting}
        if wave:
            f["wave"] = q.waves or None
        return {k: v for k, v in f.items() if v is not None}

    def _kpi_value(self, q: Query, r: Routed) -> Any:
        return self.engine.kpi_value(q.kpi, by=tuple(q.by), **self._filters(q))

    def _ranking(self, q: Query, r: Routed) -> Any:
        f = {k: v for k, v in self._filters(q).items() if k not in ("brand", "company", "market",
                                                                     "wave")}
        return self.engine.ranking(q.kpi, ta=q.ta, market=q.market, wave=q.wave, **f)

    def _trend(self, q: Query, r: Routed) -> Any:
        f = self._filters(q, wave=False)
        return self.engine.trend(q.kpi, waves=q.waves or None, **f)

    def _compare(self, q: Query, r: Routed) -> Any:
        c = q.compare
        assert c is not None
        if c.b in ("leader", "competitors"):
            ranking = self.engine.ranking(q.kpi, ta=q.ta, market=q.market, wave=q.wave)
            r.extra["ranking"] = ranking
            leader = ranking.summary.get("leader")
            if leader is None or leader == c.a:
                return ranking
            c = Compare("brand", c.a, leader)
            q.compare = c
        f = {k: v for k, v in self._filters(q).items() if k != c.dimension}
        return self.engine.compare(q.kpi, dimension=c.dimension, a=c.a, b=c.b, **f)

    def _explain_change(self, q: Query, r: Routed) -> Any:
        if len(q.waves) < 2:
            return self.engine.kpi_value(q.kpi, brand=q.brand, market=q.market, wave=q.wave)
        return self.engine.explain_change(q.kpi, brand=q.brand, market=q.market,
                                          from_wave=q.waves[0], to_wave=q.waves[-1])

    def _channel_mix(self, q: Query, r: Routed) -> Any:
        return self.engine.channel_mix(brand=q.brand, market=q.market, wave=q.wave)

    def _key_drivers(self, q: Query, r: Routed) -> Any:
        return self.engine.key_drivers(ta=q.ta, market=q.market, wave=q.wave, brand=q.brand)

    def _perception_gap(self, q: Query, r: Routed) -> Any:
        kpi = q.kpi if q.kpi in INTERNAL_KPIS else DEFAULT_KPI
        return self.engine.perception_gap(kpi, company=q.company, brand=q.brand,
                                          market=q.market, wave=q.wave)

    def _correlation(self, q: Query, r: Routed) -> Any:
        return self.engine.correlations(ta=q.ta, wave=q.wave)

    # --- retrieval -------------------------------------------------------
    def _why_passages(self, q: Query, r: Routed) -> None:
        """What the report of the wave the change ends in says about this brand and market.
        The search text names them (and the KPI) in full: a follow-up "why?" says nothing."""
        named = [self.lex.name("brand", q.brand), self.lex.name("market", q.market),
                 kpi_catalogue()[q.kpi or DEFAULT_KPI].label]
        r.passages, r.retrieval_warning = self.documents.wave_report(
            " ".join([q.text, *named]), wave=q.waves[-1], market=q.market, brand=q.brand)
