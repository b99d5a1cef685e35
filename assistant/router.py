"""Intent -> engine call, retrieval, or both, for a completed `Query`.

`Router.complete` hands the query to `Completion` (completion.py: the defaults and
clarifications each analysis needs); `Router.run` then calls the engine and/or the
documents (documents.py: the retriever is built on first use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from assistant.completion import DEFAULT_KPI, Completion
from assistant.documents import Documents
from assistant.lexicon import Lexicon
from assistant.query import Compare, Query
from cxengine.kpis import catalogue as kpi_catalogue

DOCUMENT = ("definition", "methodology")
INTERNAL_KPIS = ("nps", "csat_t2b", "cx_index")  # the KPIs companies estimate internally


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
        self.completion = Completion(lexicon)
        self.documents = Documents(retriever_factory)

    def complete(self, q: Query) -> Query:
        """The query with the assumptions its analysis needs (completion.py)."""
        return self.completion.complete(q)

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
            if q.documents == "wave_report":
                self._report_passages(q, routed)
            else:
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
                             **self._segments(q)}
        if not (q.brands or q.company):
            f["ta"] = q.ta  # every brand of the TA (a ranking split by a segment)
        if wave:
            f["wave"] = q.waves or None
        return {k: v for k, v in f.items() if v is not None}

    @staticmethod
    def _segments(q: Query) -> dict[str, Any]:
        """The segment filters (prescriber, specialty, setting) the question names."""
        return {"prescriber": q.prescriber, "specialty": q.specialty, "setting": q.setting}

    def _kpi_value(self, q: Query, r: Routed) -> Any:
        result = self.engine.kpi_value(q.kpi, by=tuple(q.by), **self._filters(q))
        if q.order in ("ascending", "descending") and q.by and getattr(result, "values", None):
            # "which market has the lowest NPS": the values listed in the order asked (values
            # not shown, base too low, last); the evidence table keeps the engine's order
            shown = [v for v in result.values if v.value is not None]
            shown.sort(key=lambda v: v.value, reverse=q.order == "descending")
            result.values = shown + [v for v in result.values if v.value is None]
        return result

    def _ranking(self, q: Query, r: Routed) -> Any:
        f = {k: v for k, v in self._filters(q).items() if k not in ("brand", "company", "market",
                                                                     "wave", "ta")}
        return self.engine.ranking(q.kpi, ta=q.ta, market=q.market, wave=q.wave, **f)

    def _trend(self, q: Query, r: Routed) -> Any:
        f = self._filters(q, wave=False)
        return self.engine.trend(q.kpi, waves=q.waves or None, **f)

    def _compare(self, q: Query, r: Routed) -> Any:
        c = q.compare
        assert c is not None
        if c.b in ("leader", "competitors"):
            # The leader of this market, wave, segment and channel selection: found again for
            # every question, among the same HCPs the comparison is made on.
            among = {k: v for k, v in {**self._segments(q), "channel": q.channel}.items()
                     if v is not None}
            ranking = self.engine.ranking(q.kpi, ta=q.ta, market=q.market, wave=q.wave,
                                          **among)
            r.extra["ranking"] = ranking
            leader = ranking.summary.get("leader")
            if leader is None or leader == c.a:
                return ranking
            c = Compare("brand", c.a, leader, c.b)
            q.compare = c
        f = {k: v for k, v in self._filters(q).items() if k not in (c.dimension, "ta")}
        return self.engine.compare(q.kpi, dimension=c.dimension, a=c.a, b=c.b, **f)

    def _explain_change(self, q: Query, r: Routed) -> Any:
        if len(q.waves) < 2:
            return self.engine.kpi_value(q.kpi, brand=q.brand, market=q.market, wave=q.wave,
                                         **self._segments(q))
        return self.engine.explain_change(q.kpi, brand=q.brand, market=q.market,
                                          from_wave=q.waves[0], to_wave=q.waves[-1],
                                          **self._segments(q))

    def _channel_mix(self, q: Query, r: Routed) -> Any:
        return self.engine.channel_mix(brand=q.brand, market=q.market, wave=q.wave,
                                       **self._segments(q))

    def _key_drivers(self, q: Query, r: Routed) -> Any:
        return self.engine.key_drivers(ta=q.ta, market=q.market, wave=q.wave, brand=q.brand,
                                       **self._segments(q))

    def _perception_gap(self, q: Query, r: Routed) -> Any:
        """A segment is passed on: the engine says plainly that internal estimates cover
        all HCPs (Unanswerable), rather than the gap being computed for everyone."""
        kpi = q.kpi if q.kpi in INTERNAL_KPIS else DEFAULT_KPI
        return self.engine.perception_gap(kpi, company=q.company, brand=q.brand,
                                          market=q.market, wave=q.wave, **self._segments(q))

    def _correlation(self, q: Query, r: Routed) -> Any:
        return self.engine.correlations(ta=q.ta, wave=q.wave)

    # --- retrieval -------------------------------------------------------
    def _report_passages(self, q: Query, r: Routed) -> None:
        """"What does the 2025-Q4 wave report say about Oncelis in France": that report,
        narrowed to the market and brand named."""
        named = [self.lex.name("brand", q.brand) if q.brand else "",
                 self.lex.name("market", q.market) if q.market else ""]
        r.passages, r.retrieval_warning = self.documents.wave_report(
            " ".join([q.text, *named]).strip(), wave=q.wave or "", market=q.market,
            brand=q.brand)

    def _why_passages(self, q: Query, r: Routed) -> None:
        """What the report of the wave the change ends in says about this brand and market.
        The search text names them (and the KPI) in full: a follow-up "why?" says nothing."""
        named = [self.lex.name("brand", q.brand), self.lex.name("market", q.market),
                 kpi_catalogue()[q.kpi or DEFAULT_KPI].label]
        r.passages, r.retrieval_warning = self.documents.wave_report(
            " ".join([q.text, *named]), wave=q.waves[-1], market=q.market, brand=q.brand)
