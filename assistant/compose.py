"""Routed query -> `Answer`: the text and the evidence that supports it.

Every number in the text is a value, base, interval or summary figure of the
engine result, a passage the retriever returned, or a figure derived for display
and recorded in the evidence (`figures` note). The numeric intents are written
in analysis_text.py, the display rules in phrasing.py; this module assembles the
answer and writes the document, conversation and refusal texts.
"""

from __future__ import annotations

from typing import Any

from assistant.analysis_text import AnalysisText
from assistant.answer import Answer
from assistant.phrasing import excerpt, singular
from assistant.query import Query
from assistant.router import Routed, breakdown_dims
from cxengine.kpis import get_kpi


class Composer(AnalysisText):
    # --- entry -----------------------------------------------------------
    def answer(self, question: str, r: Routed) -> Answer:
        q = r.query
        figures: dict[str, float] = {}
        if r.route == "clarify":
            text, options = self._clarify(q)
            return self._build(question, r, text, figures, options=options)
        if q.refusal is not None:
            return self._build(question, r, self._refusal(q), figures)
        if q.unknown_markets or q.unknown_waves:
            return self._build(question, r, self._not_covered(q), figures)
        text = getattr(self, f"_{q.intent}", self._fallback)(q, r, figures)
        return self._build(question, r, singular(text), figures)

    def _build(self, question: str, r: Routed, text: str, figures: dict[str, float],
               options: list[str] | None = None) -> Answer:
        res = r.result
        values = [v.to_dict() for v in res.values] if res is not None else []
        evidence = list(res.evidence) if res is not None else []
        for extra in r.extra.values():
            evidence += [e for e in extra.evidence if e["kind"] in ("table", "test", "definition")]
        evidence += [{"kind": "passage", **p} for p in r.passages]
        warnings = list(res.warnings) if res is not None else []
        if r.retrieval_warning:
            warnings.append(r.retrieval_warning)
        if len(values) > self.max_listed:
            # The headline values are the ones the text lists; the aggregate table keeps all.
            warnings.append(f"{len(values)} groups: the first {self.max_listed} are listed, "
                            "the full table is in the evidence")
            values = values[:self.max_listed]
        evidence += [{"kind": "note", "text": w} for w in warnings]
        if res is not None:
            evidence.append({"kind": "note", "confidence_pct": self.conf_pct,
                             "text": f"intervals and tests at {self.conf_pct}% confidence"})
        if res is not None and res.summary:
            scalars = {k: v for k, v in res.summary.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if scalars:
                evidence.append({"kind": "note", "text": f"{res.analysis} summary",
                                 "summary": scalars})
        if figures:
            evidence.append({"kind": "note", "text": "figures derived for display",
                             "figures": figures})
        if r.query.refusal is not None:
            evidence.append({"kind": "note", "text": f"refused: {r.query.refusal}",
                             "limits": dict(self.lex.rules["limits"])})
        if r.query.defaults:
            evidence.append({"kind": "note", "text": "assumed: " + "; ".join(r.query.defaults)})
        return Answer(question=question, route=r.route, intent=r.query.intent,
                      query=r.query.to_dict(), text=text, values=values, evidence=evidence,
                      warnings=warnings, suggestions=self._suggestions(r.query),
                      options=options or [])

    # --- documents -------------------------------------------------------
    def _definition(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        kpi = get_kpi(q.kpi)
        r.extra["definition"] = _Evidence([kpi.definition_evidence()])
        text = f"{kpi.label}: {kpi.definition} Formula: {kpi.formula}."
        return text + self._passage_text(r)

    def _methodology(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        body = self._passage_text(r)
        return body.strip() or ("The methodology documents are not indexed yet "
                                "(run `cxassist index build`).")

    def _passage_text(self, r: Routed) -> str:
        if not r.passages:
            return f"\n(No methodology passages: {r.retrieval_warning})" if (
                r.retrieval_warning) else ""
        p = r.passages[0]
        return (f"\n\nFrom the methodology documents: \u201c{excerpt(p['text'])}\u201d "
                f"({p['title']}, {p['source']})")

    # --- conversation ----------------------------------------------------
    def _catalogue(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        o = self.lex.options
        return ("The benchmark covers waves " + ", ".join(o["wave"]) + "; markets "
                + ", ".join(self._names("market", o["market"])) + "; therapy areas "
                + ", ".join(self._names("ta", o["ta"])) + "; brands "
                + ", ".join(self._names("brand", o["brand"])) + ". KPIs: "
                + ", ".join(o["kpi"]) + ".")

    def _help(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        w = self.lex.latest("nps")
        return ("Ask about the CX benchmark, for example: \"NPS of Cardiovex in Germany\", "
                "\"who leads cardiology in France\", \"NPS trend for Oncelis in France\", "
                f"\"why did Cardiovex's NPS change in Germany in {w}\", \"what drives "
                "recommendation in oncology\", \"how is NPS calculated\".")

    def _out_of_scope(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        return self._refusal(q.copy(refusal="out_of_scope"))

    def _fallback(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        return self._help(q, r, figures)

    def _refusal(self, q: Query) -> str:
        template = self.lex.rules["refusals"][q.refusal or "out_of_scope"]
        return " ".join(template.split()).format(
            dims=", ".join(breakdown_dims(q)), **self.lex.rules["limits"])

    # --- clarify / not covered --------------------------------------------
    def _clarify(self, q: Query) -> tuple[str, list[str]]:
        c = q.clarify
        assert c is not None
        if c.reason == "did_you_mean":
            return f"Did you mean {' or '.join(c.options)}?", list(c.options)
        return f"Which {c.slot.replace('ta', 'therapy area')}? Choose one of: " + ", ".join(
            c.options) + ".", list(c.options)

    def _not_covered(self, q: Query) -> str:
        if q.unknown_markets:
            return (f"{', '.join(m.title() for m in q.unknown_markets)} is not in the benchmark. "
                    "Markets covered: " + ", ".join(self._names("market", self.lex.options[
                        "market"])) + ".")
        return (f"There is no wave {', '.join(q.unknown_waves)} in the benchmark. Waves: "
                + ", ".join(self.lex.options["wave"]) + ".")

    def _suggestions(self, q: Query) -> list[str]:
        if q.refusal is not None:
            return []
        if q.intent in ("kpi_value", "compare") and q.brands and q.markets:
            return ["why?", "how do we compare with the leader?", "show the trend"]
        if q.intent == "trend":
            return ["why?", "split by specialty"]
        return []


class _Evidence:
    """Evidence added by the composer itself (e.g. the KPI definition)."""

    def __init__(self, items: list[dict[str, Any]]):
        self.evidence = items
