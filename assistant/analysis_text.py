"""The text of each numeric answer, written only from the engine's computed values.

One method per analysis intent (`_<intent>`); each receives the completed query,
the routed result and a `figures` dict where it records any number it derives
for display, so that the number is in the evidence too.
"""

from __future__ import annotations

from assistant.phrasing import Phrasing, excerpt
from assistant.query import Query
from assistant.router import Routed, breakdown_dims
from cxengine.kpis import get_kpi


class AnalysisText(Phrasing):
    def _kpi_value(self, q: Query, r: Routed, figures: dict[str, float]) -> str:
        kpi = get_kpi(q.kpi or "nps")
        vals = [v.to_dict() for v in r.result.values]
        head = f"{kpi.label} for {self._where(q)}, {', '.join(q.waves) or 'all waves'}"
        if not vals or all(v["value"] is None for v in vals):
            return self._coverage(q) or (f"{head}: no value (" + "; ".join(r.result.warnings)
                                        + ")." if r.result.warnings else f"{head}: no data.")
        if len(vals) == 1:
            return f"{head}: {self._value(vals[0])}.{self._defaults(q)}"
        dims = breakdown_dims(q)
        lines = [f"{head}, by {', '.join(dims) or 'group'}:"]
        for v in vals[:self.max_listed]:
            lines.append(f"- {self._label(dims, v)}: {self._value(v)}")
        if len(vals) > self.max_listed:
            lines.append(f"... and {len(vals) - self.max_listed} more groups in the table; "
                         "narrow the question to list them.")
            figures["groups_not_listed"] = len(vals) - self.max_listed
        return "\n".join(lines) + self._defaults(q)

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
                lines.append(f"\u201c{excerpt(p['text'])}\u201d ({p['title']}, {p['source']})")
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
