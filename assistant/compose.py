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
from assistant.answer import VALUE_KEYS, Answer
from assistant.completion import breakdown_dims
from assistant.lexicon import normalise
from assistant.phrasing import Draft, excerpt, singular
from assistant.query import Query
from assistant.router import Routed
from cxengine.kpis import get_kpi

_MAX_QUOTES = 3
_MIN_QUOTE_CHARS = 120  # shorter passages are fragments (a heading's tail), not worth quoting
_MAX_KPI_WORDS = 5  # longest KPI phrase looked for in a definition question
# A question about the base rule names the base and one of these words.
_BASE_WORDS = frozenset({"base", "bases"})
_BASE_RULE_WORDS = frozenset({"minimum", "min", "suppress", "suppressed", "suppression",
                              "threshold", "thresholds", "small", "low", "show", "shown",
                              "showing", "hide", "hidden", "rule", "rules", "enough", "cutoff"})


class Composer(AnalysisText):
    # --- entry -----------------------------------------------------------
    def answer(self, question: str, r: Routed) -> Answer:
        q = r.query
        draft = Draft()
        if r.route == "clarify":
            text, options = self._clarify(q)
            return self._build(question, r, text, draft, options=options)
        if q.refusal is not None:
            return self._build(question, r, self._refusal(q), draft)
        if q.unknown_markets or q.unknown_waves:
            return self._build(question, r, self._not_covered(q), draft)
        text = getattr(self, f"_{q.intent}", self._fallback)(q, r, draft)
        if r.result is not None:  # HCPs the question names that the analysis did not filter
            text += self._unapplied(q, r, channel=q.intent != "channel_mix")
        return self._build(question, r, singular(text), draft)

    def _build(self, question: str, r: Routed, text: str, d: Draft,
               options: list[str] | None = None) -> Answer:
        res = r.result
        values = [v.to_dict() for v in res.values] if res is not None else []
        values = [{**v, "company": c} for v, c in zip(values, self._companies(r), strict=True)]
        values = [self._contract_value(v, r.query) for v in values + d.values]
        evidence = list(res.evidence) if res is not None else []
        for extra in r.extra.values():
            evidence += [e for e in extra.evidence if e["kind"] in ("table", "test", "definition")]
        evidence += d.evidence
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
            t = self.thresholds  # the base rule the flags, and "below 30" in the text, follow
            evidence.append({"kind": "note", "confidence_pct": self.conf_pct,
                             "text": f"intervals and tests at {self.conf_pct}% confidence",
                             "thresholds": {"suppress_below": t.suppress_below,
                                            "small_below": t.small_below}})
        if res is not None and res.summary:
            scalars = {k: v for k, v in res.summary.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)}
            if scalars:
                evidence.append({"kind": "note", "text": f"{res.analysis} summary",
                                 "summary": scalars})
        if d.figures:
            evidence.append({"kind": "note", "text": "figures derived for display",
                             "figures": d.figures})
        if r.query.refusal is not None:
            evidence.append({"kind": "note", "text": f"refused: {r.query.refusal}",
                             "limits": dict(self.lex.rules["limits"])})
        if r.query.defaults:
            evidence.append({"kind": "note", "text": "assumed: " + "; ".join(r.query.defaults)})
        return Answer(question=question, route=r.route, intent=r.query.intent,
                      query=r.query.to_dict(), text=text, values=values, evidence=evidence,
                      warnings=warnings, suggestions=self._suggestions(r.query, values),
                      options=options or [])

    def _companies(self, r: Routed) -> list[str | None]:
        """The company of each engine value that is at company level (no brand label): a
        company's perception gap (values in the order of the summary's companies), a group
        of a breakdown or comparison by company (the table row of the same cell), else the
        company the question names. None for brand-level values."""
        res = r.result
        if res is None:
            return []
        n = len(res.values)
        table = list(res.table or [])
        companies: list[str | None] = [r.query.company] * n
        listed = (res.summary or {}).get("companies")
        if res.analysis == "perception_gap" and isinstance(listed, list) and len(listed) == n:
            companies = list(listed)
        elif len(table) == n and any("company" in row for row in table):
            companies = [row.get("company") or r.query.company for row in table]
        return [None if v.brand is not None else c
                for v, c in zip(res.values, companies, strict=True)]

    def _contract_value(self, v: dict[str, Any], q: Query) -> dict[str, Any]:
        """A value in the contract's keys: the TA filled from the brand (or the query's TA,
        which every value of the answer lies within), and `segment` kept for segments (a
        company is the subject of the question, not a segment of HCPs)."""
        out = {k: v.get(k) for k in VALUE_KEYS}
        out["flags"] = list(out["flags"] or [])
        if out["ta"] is None:
            out["ta"] = self.lex.brand_ta.get(out["brand"] or "") or q.ta
        if out["segment"] is not None and out["segment"] in self.lex.options.get("company", []):
            out["segment"] = None
        return out

    # --- documents -------------------------------------------------------
    def _definition(self, q: Query, r: Routed, d: Draft) -> str:
        return self._documents(q, r, d)

    def _methodology(self, q: Query, r: Routed, d: Draft) -> str:
        return self._documents(q, r, d)

    def _documents(self, q: Query, r: Routed, d: Draft) -> str:
        """The catalogue definitions of the KPIs the question names and, for a question about
        the base rule, the thresholds the engine runs with; then the best passages."""
        parts = [self._kpi_definitions(q, d), self._base_rule(q, d), self._passage_text(q, r)]
        body = "\n\n".join(p for p in parts if p)
        return body or ("The methodology documents are not indexed yet "
                        "(run `cxassist index build`).")

    def _kpi_definitions(self, q: Query, d: Draft) -> str:
        kpis = [get_kpi(k) for k in self._named_kpis(q)]
        d.evidence += [k.definition_evidence() for k in kpis]
        return "\n".join(f"{k.label}: {k.definition} Formula: {k.formula}." for k in kpis)

    def _named_kpis(self, q: Query) -> list[str]:
        """Every KPI the question names, in order: the parsed one first, then any other KPI
        phrase of the question ("the difference between CES and CSAT")."""
        named = [q.kpi] if q.kpi else []
        named += list(getattr(q, "kpis", None) or [])
        tokens = normalise(q.text).split()
        for i in range(len(tokens)):
            for n in range(min(_MAX_KPI_WORDS, len(tokens) - i), 0, -1):
                ents = [e for e in self.lex.phrases.get(" ".join(tokens[i:i + n]), [])
                        if e.slot == "kpi"]
                if ents:
                    named.append(ents[0].id)
                    break
        return list(dict.fromkeys(named))

    def _base_rule(self, q: Query, d: Draft) -> str:
        words = set(normalise(q.text).split())
        if not (words & _BASE_WORDS and words & _BASE_RULE_WORDS):
            return ""
        t = self.thresholds
        d.evidence.append({"kind": "note", "text": "base rule the engine runs with",
                           "thresholds": {"suppress_below": t.suppress_below,
                                          "small_below": t.small_below}})
        return (f"Base rule in this benchmark: a value whose effective base is below "
                f"{t.suppress_below:g} is not shown (\u201cbase too low\u201d); below "
                f"{t.small_below:g} it is shown with a \u201csmall base\u201d flag, to be "
                "read as directional.")

    def _passage_text(self, q: Query, r: Routed) -> str:
        source = (f"the {q.wave} wave report" if q.documents == "wave_report" and q.wave else
                  "the wave reports" if q.documents == "wave_report" else
                  "the methodology documents")
        if not r.passages:
            return f"(No passages from {source}: {r.retrieval_warning})" if (
                r.retrieval_warning) else ""
        quotable = [p for p in r.passages if len(p["text"]) >= _MIN_QUOTE_CHARS] or r.passages
        return f"From {source}:\n" + "\n".join(
            f"\u201c{excerpt(p['text'])}\u201d ({p['title']}, {p['source']})"
            for p in quotable[:_MAX_QUOTES])

    # --- conversation ----------------------------------------------------
    def _catalogue(self, q: Query, r: Routed, d: Draft) -> str:
        o = self.lex.options
        return ("The benchmark covers waves " + ", ".join(o["wave"]) + "; markets "
                + ", ".join(self._names("market", o["market"])) + "; therapy areas "
                + ", ".join(self._names("ta", o["ta"])) + "; brands "
                + ", ".join(self._names("brand", o["brand"])) + ". KPIs: "
                + ", ".join(o["kpi"]) + ".")

    def _help(self, q: Query, r: Routed, d: Draft) -> str:
        w = self.lex.latest("nps")
        return ("Ask about the CX benchmark, for example: \"NPS of Cardiovex in Germany\", "
                "\"who leads cardiology in France\", \"NPS trend for Oncelis in France\", "
                f"\"why did Cardiovex's NPS change in Germany in {w}\", \"what drives "
                "recommendation in oncology\", \"how is NPS calculated\".")

    def _out_of_scope(self, q: Query, r: Routed, d: Draft) -> str:
        return self._refusal(q.copy(refusal="out_of_scope"))

    def _fallback(self, q: Query, r: Routed, d: Draft) -> str:
        return self._help(q, r, d)

    def _refusal(self, q: Query) -> str:
        template = self.lex.rules["refusals"][q.refusal or "out_of_scope"]
        return " ".join(template.split()).format(
            dims=", ".join(breakdown_dims(q)), **self.lex.rules["limits"])

    # --- clarify / not covered --------------------------------------------
    def _clarify(self, q: Query) -> tuple[str, list[str]]:
        c = q.clarify
        assert c is not None
        lead = f"{c.note} " if c.note else ""  # e.g. "Zentravax is not a brand in ..."
        if c.reason == "did_you_mean":
            return f"{lead}Did you mean {' or '.join(c.options)}?", list(c.options)
        return f"{lead}Which {c.slot.replace('ta', 'therapy area')}? Choose one of: " + ", ".join(
            c.options) + ".", list(c.options)

    def _not_covered(self, q: Query) -> str:
        if q.unknown_markets:
            names = ", ".join(m[:1].upper() + m[1:] for m in q.unknown_markets)
            return (f"{names} is not in the benchmark. "
                    "Markets covered: " + ", ".join(self._names("market", self.lex.options[
                        "market"])) + ".")
        return (f"There is no wave {', '.join(q.unknown_waves)} in the benchmark. Waves: "
                + ", ".join(self.lex.options["wave"]) + ".")

    # --- suggestions -----------------------------------------------------
    def _suggestions(self, q: Query, values: list[dict[str, Any]]) -> list[str]:
        """Follow-ups offered only when the data can answer them: after an answer with a
        value, for one brand in one market."""
        if q.refusal is not None or q.clarify is not None or not any(
                v.get("value") is not None for v in values):
            return []
        if len(q.brands) != 1 or len(q.markets) != 1 or q.by:
            return []
        kpi = get_kpi(q.kpi or "nps")
        out = []
        if q.intent in ("kpi_value", "compare", "trend") and self._can_explain(q):
            out.append("why?")
        if q.intent == "kpi_value" or (q.intent == "compare" and q.compare is not None
                                       and q.compare.dimension == "wave"):
            if kpi.kind == "row" and (kpi.requires != "channel" or q.channel):
                out.append("how do we compare with the leader?")
        if q.intent in ("kpi_value", "compare"):
            out.append("show the trend")
        full = self._previous_full_wave(q)
        if full is not None:
            out.append(f"compare {full} with {q.compare.b}")
        if q.intent == "trend":
            out.append("split by specialty")
        return out

    def _previous_full_wave(self, q: Query) -> str | None:
        """For a wave comparison starting at a light wave (a smaller sample), the full wave
        before it: the comparison most readers of a full-wave report have in mind."""
        c = q.compare
        light = self.lex.light_waves()
        if q.intent != "compare" or c is None or c.dimension != "wave" or c.a not in light:
            return None
        order = self.lex.wave_ids()
        if c.b not in order or c.a not in order:
            return None
        full = [w for w in order[:order.index(c.a)] if w not in light]
        return full[-1] if full else None

    def _can_explain(self, q: Query) -> bool:
        """A "why?" follow-up decomposes the change into the latest wave asked about from the
        wave before it: a KPI scored per rater, and a brand rated in both waves."""
        kpi = get_kpi(q.kpi or "nps")
        if kpi.kind != "row" or kpi.rows != "raters" or not kpi.score:
            return False
        to = q.wave or self.lex.latest(kpi.id)
        frm = self.lex.previous(to, kpi.id) if to else None
        launch = self.lex.brand_launch.get(q.brand or "", {}).get(q.market or "", {})
        return frm is not None and launch.get(frm) != "prelaunch"
