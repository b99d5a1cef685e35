"""Answer text written only from computed values (DOMAIN §4 display rules).

Every number in the text is a value, base, interval or summary figure of the
engine result, a passage the retriever returned, or a figure this module
derives for display and records in the evidence (`figures` note). Significance
is said in words with the test's name; base flags are said in words too.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.answer import Answer
from assistant.lexicon import Lexicon
from assistant.query import Query
from assistant.router import Routed
from cxengine.kpis import get_kpi

_PASSAGE_CHARS = 420


class Composer:
    def __init__(self, lexicon: Lexicon, confidence: float = 0.95):
        self.lex = lexicon
        self.conf_pct = round(confidence * 100)

    # --- entry -----------------------------------------------------------
    def answer(self, question: str, r: Routed) -> Answer:
        q = r.query
        figures: dict[str, float] = {}
        if r.route == "clarify":
            text, options = self._clarify(q)
            return self._build(question, r, text, figures, options=options)
        if q.unknown_markets or q.unknown_waves:
            return self._build(question, r, self._not_covered(q), figures)
        text = getattr(self, f"_{q.intent}", self._fallback)(q, r, figures)
        return self._build(question, r, _singular(text), figures)

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
        if r.query.defaults:
            evidence.append({"kind": "note", "text": "assumed: " + "; ".join(r.query.defaults)})
        return Answer(question=question, route=r.route, intent=r.query.intent,
                      query=r.query.to_dict(), text=text, values=values, evidence=evidence,
                      warnings=warnings, suggestions=self._suggestions(r.query),
                      options=options or [])

    # --- formatting helpers ----------------------------------------------
    def _name(self, slot: str, id_: Any) -> str:
        return self.lex.name(slot, id_) if id_ is not None else ""

    def _where(self, q: Query) -> str:
        subject = (", ".join(self._name("brand", b) for b in q.brands)
                   or q.company or self._name("ta", q.ta))
        parts = [subject, " and ".join(self._name("market", m) for m in q.markets)]
        seg = q.segment()
        if seg.get("prescriber") is not None:
            parts.append("prescribers" if seg["prescriber"] else "non-prescribers")
        parts += [seg.get("specialty"), seg.get("setting"), self._name("channel", q.channel)]
        return ", ".join(p for p in parts if p)

    def _value(self, v: dict[str, Any]) -> str:
        kpi = get_kpi(v["kpi"])
        if v["value"] is None:
            if "empty" in v["flags"]:
                return "no ratings"
            return f"not shown, base too low (effective base {v['effective_base']:.0f})"
        text = kpi.format(v["value"])
        if v["ci_low"] is not None:
            text += (f" ({self.conf_pct}% CI {kpi.format(v['ci_low'])} to "
                     f"{kpi.format(v['ci_high'])}; base {v['base']}, effective base "
                     f"{v['effective_base']:.0f}")
            text += ", small base)" if "small_base" in v["flags"] else ")"
        return text

    def _significance(self, significant: bool | None, test: str | None) -> str:
        word = "significant" if significant else "not significant"
        return f"{word} at {self.conf_pct}%" + (f"; test: {test}" if test else "")

    def _change(self, kpi_id: str, delta: float | None) -> str:
        if delta is None:
            return "change not available"
        kpi = get_kpi(kpi_id)
        if round(abs(delta), kpi.decimals) == 0:
            return "unchanged"
        return f"{'up' if delta > 0 else 'down'} {kpi.format_change(abs(delta)).lstrip('+')}"

    def _defaults(self, q: Query) -> str:
        return f"\nAssumed: {'; '.join(q.defaults)}." if q.defaults else ""

    def _coverage(self, q: Query) -> str | None:
        """A plain statement when the data cannot carry the question."""
        kpi = q.kpi
        for w in q.waves:
            if kpi and not self.lex.carries(w, kpi):
                return (f"{w} is a light wave: it asks headline KPIs only, so there is no "
                        f"{get_kpi(kpi).label} for it.")
        for b in q.brands:
            for m in q.markets:
                for w in q.waves:
                    if self.lex.brand_launch.get(b, {}).get(m, {}).get(w) == "prelaunch":
                        return (f"{self._name('brand', b)} was not yet launched in "
                                f"{self._name('market', m)} in {w}: there are no HCP ratings.")
        return None

    # --- intents ---------------------------------------------------------
    def _kpi_value(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        kpi = get_kpi(q.kpi or "nps")
        vals = [v.to_dict() for v in r.result.values]
        head = f"{kpi.label} for {self._where(q)}, {', '.join(q.waves) or 'all waves'}"
        if not vals or all(v["value"] is None for v in vals):
            return self._coverage(q) or (f"{head}: no value (" + "; ".join(r.result.warnings)
                                        + ")." if r.result.warnings else f"{head}: no data.")
        if len(vals) == 1:
            return f"{head}: {self._value(vals[0])}.{self._defaults(q)}"
        dims = [*q.by, *(["channel"] if kpi.requires == "channel" and not q.by else [])]
        lines = [f"{head}, by {', '.join(dims) or 'group'}:"]
        for v in vals:
            label = " / ".join(str(self._label(d, v)) for d in dims) or "all"
            lines.append(f"- {label}: {self._value(v)}")
        return "\n".join(lines) + self._defaults(q)

    def _label(self, dim: str, v: dict[str, Any]) -> str:
        if dim in ("prescriber", "specialty", "setting"):
            return v.get("segment") or "all"
        return self._name(dim, v.get(dim))

    def _ranking(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        kpi = get_kpi(q.kpi or "nps")
        rows = [row for row in r.result.table if row.get("rank")]
        head = (f"{kpi.label} ranking, {self._name('ta', q.ta)}, {self._name('market', q.market)}"
                f", {q.wave}")
        if not rows:
            return self._coverage(q) or f"{head}: no brand has enough base to rank."
        parts = []
        for row in rows:
            item = f"{row['rank']}. {row['name']} {kpi.format(row['value'])}"
            if row.get("leader"):
                item += " (leader)"
            elif row.get("gap_to_leader") is not None:
                item += f" (gap to leader {kpi.format_change(row['gap_to_leader'])}"
                if "gap_significant" in row:
                    item += ", " + ("significant" if row["gap_significant"] else
                                    "not significant") + f" at {self.conf_pct}%"
                item += ")"
            if "small_base" in (row.get("flags") or ""):
                item += " [small base]"
            parts.append(item)
        hidden = [row["name"] for row in r.result.table if not row.get("rank")]
        tail = f" Not shown (base too low): {', '.join(hidden)}." if hidden else ""
        return f"{head}:\n" + "\n".join(parts) + tail + self._defaults(q)

    def _trend(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        kpi = get_kpi(q.kpi or "nps")
        rows = r.result.table
        head = f"{kpi.label} for {self._where(q)} over waves"
        if not rows:
            return f"{head}: no data."
        lines = [f"{head}:"]
        for row in rows:
            ch = f" {row['channel']}" if row.get("channel") else ""
            line = f"- {row['wave']}{ch}: {kpi.format(row['value'])}"
            if row.get("change") is not None:
                line += (f" ({self._change(kpi.id, row['change'])} vs previous, "
                         f"{self._significance(row.get('significant'), None)})")
            if "small_base" in (row.get("flags") or ""):
                line += " [small base]"
            if "suppressed" in (row.get("flags") or ""):
                line = f"- {row['wave']}{ch}: base too low, not shown"
            lines.append(line)
        notes = [e["text"] for e in r.result.evidence_of("note") if "light wave" in e["text"]]
        return "\n".join(lines + notes) + self._defaults(q)

    def _compare(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        kpi = get_kpi(q.kpi or "nps")
        c = q.compare
        res = r.result
        if res.analysis == "ranking":  # asked about the leader and is the leader
            leader = res.summary.get("leader")
            if leader is None:
                return self._coverage(q) or "No brand has enough base to name a leader."
            return (f"{self._name('brand', leader)} is the {kpi.label} leader in "
                    f"{self._name('ta', q.ta)}, {self._name('market', q.market)}, {q.wave}: "
                    + self._value(res.values[0].to_dict()) + "." + self._defaults(q))
        sides = []
        for side in (c.a, c.b):
            v = next((x.to_dict() for x in res.values
                      if x.to_dict().get(c.dimension) == side), None)
            label = self._name(c.dimension, side) if c.dimension != "wave" else side
            sides.append(f"{label} {self._value(v) if v else 'no data'}")
        scope = self._where(q.copy(brands=[] if c.dimension == "brand" else q.brands,
                                   markets=[] if c.dimension == "market" else q.markets))
        waves = "" if c.dimension == "wave" else f", {q.wave}"
        lead = " (the leader)" if "ranking" in r.extra else ""
        text = f"{kpi.label}{', ' + scope if scope else ''}{waves}: " + " vs ".join(sides) + lead
        s = res.summary
        if s.get("difference") is not None:
            a_name, b_name = (self._name(c.dimension, x) if c.dimension != "wave" else x
                              for x in (c.a, c.b))
            if c.dimension == "wave":
                text += f". Change {a_name} to {b_name}: {self._change(kpi.id, s['difference'])}"
            else:
                diff = kpi.format_change(abs(s["difference"])).lstrip("+")
                side = "above" if s["difference"] > 0 else "below"
                text += f". {b_name} is {diff} {side} {a_name}"
            text += f", {self._significance(s.get('significant'), s.get('test'))}"
        elif self._coverage(q):
            text += ". " + self._coverage(q)
        return text + "." + self._defaults(q)

    def _explain_change(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        kpi = get_kpi(q.kpi or "nps")
        s = r.result.summary
        where = self._where(q)
        if len(q.waves) < 2 or s.get("change") is None:
            base = self._coverage(q) or (f"Cannot explain a change of {kpi.label} for {where}: "
                                         + ("; ".join(r.result.warnings) or "no earlier wave"))
            return base + self._defaults(q)
        lines = ["From the data:",
                 f"{kpi.label} for {where} went from {kpi.format(s['value_from'])} "
                 f"({q.waves[0]}) to {kpi.format(s['value_to'])} ({q.waves[1]}): "
                 f"{self._change(kpi.id, s['change'])}, "
                 f"{self._significance(s.get('significant'), s.get('test'))}."]
        contrib = [c for c in s.get("contributions", []) if abs(c["contribution"]) >= 0.5][:4]
        if contrib:
            lines.append("Largest driver contributions: " + "; ".join(
                f"{c['predictor'].replace('_', ' ')} {kpi.format_change(c['contribution'])}"
                for c in contrib) + ".")
        chans = [c for c in s.get("channels", []) if c.get("reach_delta") is not None
                 and abs(c["reach_delta"]) >= 5][:3]
        if chans:
            reach = get_kpi("channel_reach")
            lines.append("Channel reach moves: " + "; ".join(
                f"{self._name('channel', c['channel'])} {reach.format_change(c['reach_delta'])}"
                for c in chans) + ".")
        if r.passages:
            lines += ["", "What the wave reports say (documents, not computed):"]
            for p in r.passages[:2]:
                lines.append(f"\u201c{_excerpt(p['text'])}\u201d ({p['title']}, {p['source']})")
        elif r.retrieval_warning:
            lines += ["", f"No wave-report passages: {r.retrieval_warning}."]
        return "\n".join(lines) + self._defaults(q)

    def _channel_mix(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        rows = [row for row in r.result.table if row.get("reach") is not None]
        head = f"Channel mix for {self._where(q)}, {q.wave}"
        if not rows:
            return self._coverage(q) or f"{head}: no channel data."
        reach, impact = get_kpi("channel_reach"), get_kpi("channel_impact")
        lines = [f"{head} (reach, impact 0-10 among those reached):"]
        for row in rows[:6]:
            imp = "n/a" if row.get("impact") is None else impact.format(row["impact"])
            lines.append(f"- {row['name']}: reach {reach.format(row['reach'])}, impact {imp}")
        top = r.result.summary.get("top_impact")
        if top:
            lines.append(f"Best experience: {self._name('channel', top)}.")
        return "\n".join(lines) + self._defaults(q)

    def _key_drivers(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        s, rows = r.result.summary, r.result.table
        scope = ", ".join(p for p in (self._name("ta", q.ta), self._name("market", q.market),
                                      q.wave or "all full waves") if p)
        if not rows:
            return (self._coverage(q.copy(kpi="driver:knowledge")) or
                    f"No driver analysis for {scope}: " + "; ".join(r.result.warnings)) + "."
        share = get_kpi("promoters_pct")  # whole-% display, like every share
        top = "; ".join(f"{row['predictor'].replace('_', ' ')} "
                        f"{share.format(row['importance_pct'])} ({row['quadrant']})"
                        for row in rows[:5])
        text = (f"What drives recommendation (NPS) in {scope}, Shapley importance: {top}. "
                f"CX drivers together {share.format(s['cx_share'])}, product "
                f"{share.format(s['product_share'])}.")
        if s.get("fix"):
            text += " Fix first: " + ", ".join(f.replace("_", " ") for f in s["fix"]) + "."
        return text + self._defaults(q)

    def _perception_gap(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        s = r.result.summary
        if not s.get("cells"):
            return "No internal estimates to compare with for this selection."
        kpi = get_kpi(s["kpi"])
        figures["relative_gap_pct"] = round(100 * s["relative_gap"], 4)
        figures["share_overshooting_pct"] = round(100 * s["share_overshooting"], 4)
        who = self._where(q) or "all companies"
        pct = get_kpi("promoters_pct")
        return (f"Perception gap on {kpi.label} ({who}): internal estimates are "
                f"{kpi.format_change(s['mean_gap']).lstrip('+')} above the HCP view on average "
                f"(relative gap {pct.format(figures['relative_gap_pct'])}), over "
                f"{s['cells']} brand x market x wave cells; "
                f"{pct.format(figures['share_overshooting_pct'])} of estimates overshoot."
                + self._defaults(q))

    def _correlation(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        rows = r.result.table
        if not rows:
            return "Not enough brand x market cells to correlate: " + "; ".join(
                r.result.warnings) + "."
        parts = [f"{row['x'].replace('_', ' ')} vs {row['y'].replace('_', ' ')} r = "
                 f"{row['r']:.2f} ({'significant' if row['significant'] else 'not significant'})"
                 for row in rows]
        return (f"Across {rows[0]['cells']} brand x market x wave cells "
                f"({self._name('ta', q.ta) or 'all therapy areas'}): " + "; ".join(parts)
                + ". Correlation is not causation.")

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
        return (f"\n\nFrom the methodology documents: \u201c{_excerpt(p['text'])}\u201d "
                f"({p['title']}, {p['source']})")

    def _catalogue(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        o = self.lex.options
        return ("The benchmark covers waves " + ", ".join(o["wave"]) + "; markets "
                + ", ".join(self._names("market", o["market"])) + "; therapy areas "
                + ", ".join(self._names("ta", o["ta"])) + "; brands "
                + ", ".join(self._names("brand", o["brand"])) + ". KPIs: "
                + ", ".join(o["kpi"]) + ".")

    def _names(self, slot: str, ids: list[str]) -> list[str]:
        return [self.lex.name(slot, i) for i in ids]

    def _help(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        w = self.lex.latest("nps")
        return ("Ask about the CX benchmark, for example: \"NPS of Cardiovex in Germany\", "
                "\"who leads cardiology in France\", \"NPS trend for Oncelis in France\", "
                f"\"why did Cardiovex's NPS change in Germany in {w}\", \"what drives "
                "recommendation in oncology\", \"how is NPS calculated\".")

    def _out_of_scope(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        return ("That is outside what I can answer: I answer questions about the CX benchmark "
                "(brands, markets, waves, KPIs, drivers, channels) and its methodology.")

    def _fallback(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        return self._help(q, r, figures)

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
        if q.intent in ("kpi_value", "compare") and q.brands and q.markets:
            return ["why?", "how do we compare with the leader?", "show the trend"]
        if q.intent == "trend":
            return ["why?", "split by specialty"]
        return []


_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?")
_WAVE_ID = re.compile(r"\b\d{4}-Q\d\b")


def numbers_in(text: str) -> list[str]:
    """Numbers as written (wave ids like 2025-Q4 are names, not numbers)."""
    return _NUMBER.findall(_WAVE_ID.sub(" ", text))


def _evidence_numbers(obj: Any, out: set[float]) -> None:
    if isinstance(obj, bool) or obj is None:
        return
    if isinstance(obj, (int, float)):
        out.add(abs(float(obj)))
    elif isinstance(obj, str):
        out.update(abs(float(n)) for n in numbers_in(obj))
    elif isinstance(obj, dict):
        for v in obj.values():
            _evidence_numbers(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _evidence_numbers(v, out)


def unsupported_numbers(text: str, answer: Answer) -> list[str]:
    """Numbers in `text` that no value, evidence item or the question supports, after the
    display rounding (the decimals shown) and ignoring the sign (\"down 10 points\")."""
    known: set[float] = set()
    _evidence_numbers([answer.values, answer.evidence, answer.question, answer.query], known)
    bad = []
    for n in numbers_in(text):
        decimals = len(n.split(".")[1]) if "." in n else 0
        shown = n.lstrip("+-")
        if not any(f"{x:.{decimals}f}" == shown for x in known):
            bad.append(n)
    return bad


def _singular(text: str) -> str:
    """'1 points' -> '1 point' (the KPI formatter always says points)."""
    return re.sub(r"(?<![0-9.])([+-]?1) points", r"\1 point", text)


class _Evidence:
    """Evidence added by the composer itself (e.g. the KPI definition)."""

    def __init__(self, items: list[dict[str, Any]]):
        self.evidence = items


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _PASSAGE_CHARS else text[:_PASSAGE_CHARS].rsplit(" ", 1)[0] + "..."
