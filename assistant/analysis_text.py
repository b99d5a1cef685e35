"""The text of each numeric answer, written only from the engine's computed values.

One method per analysis intent (`_<intent>`); each receives the completed query,
the routed result and a `Draft` where it records any number it derives for display
(so that the number is in the evidence too), any headline value it states that the
engine result does not list, and any evidence of its own.
"""

from __future__ import annotations

from typing import Any

from assistant.completion import breakdown_dims
from assistant.lexicon import normalise
from assistant.phrasing import (
    Draft,
    Phrasing,
    among_phrase,
    approximate,
    channel_words,
    excerpt,
    is_paired,
)
from assistant.query import Query
from assistant.router import Routed
from cxengine.kpis import get_kpi
from cxengine.measure import segment_label

# The approximate test's caveat: the two sides can hold the same HCPs (channels, companies).
_APPROXIMATE = ("approximate: the same HCPs can count on both sides, and the test treats "
                "the sides as independent")
# The groups a mix-versus-rate split runs across, by segment dimension.
_SEGMENT_GROUPS = {"prescriber": "prescribers and non-prescribers",
                   "specialty": "specialties", "setting": "settings"}


class AnalysisText(Phrasing):
    def _kpi_value(self, q: Query, r: Routed, d: Draft) -> str:
        kpi = get_kpi(q.kpi or "nps")
        vals = [v.to_dict() for v in r.result.values]
        head = f"{kpi.label} for {self._where(q, r)}, {', '.join(q.waves) or 'all waves'}"
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
            d.figures["groups_not_listed"] = len(vals) - self.max_listed
        return "\n".join(lines) + self._defaults(q)

    def _ranking(self, q: Query, r: Routed, d: Draft) -> str:
        kpi = get_kpi(q.kpi or "nps")
        rows = [row for row in r.result.table if row.get("rank")]
        scope = ", ".join(p for p in (self._name("ta", q.ta), self._name("market", q.market),
                                      self._channel_kpi_part(q, r, True), self._among(q, r),
                                      q.wave) if p)
        # The order asked by value ("lowest": ascending): the ranking (best first) is listed
        # from the bottom when that order is the other way round; rank numbers stay.
        # "worst" (by rank, not value) is read too, from the bottom of the ranking.
        asked = getattr(q, "order", None)
        bottom_up = asked == "worst" or (asked in ("ascending", "descending") and (
            (asked == "ascending") == kpi.higher_is_better))
        order = {"ascending": ", lowest first", "descending": ", highest first",
                 "worst": ", worst first"}.get(asked, "")
        head = f"{kpi.label} ranking, {scope}{order}"
        if not rows:
            return self._coverage(q) or f"{head}: no brand has enough base to rank."
        leader = next(row for row in rows if row.get("leader"))
        tests = {t.get("label"): t for t in r.result.evidence_of("test")}
        parts, paired = [], []
        for row in (reversed(rows) if bottom_up else rows):
            item = f"{row['rank']}. {row['name']} {kpi.format(row['value'])}"
            if row.get("leader"):
                item += " (leader)"
            elif row.get("gap_to_leader") is not None:
                gap = self._difference(kpi.id, row["gap_to_leader"],
                                       (leader["value"], row["value"]))
                item += f" (gap to leader {gap}"
                test = tests.get(f"{row['name']} vs leader {leader['name']}")
                if test is not None:  # the engine records one per brand it could pair
                    tested = self._paired_gap(kpi.id, test)
                    paired += [test.get("test")] if tested else []
                    item += "; " + tested if tested else ", " + self._significance(
                        test, name=False)
                item += ")"
            if "small_base" in (row.get("flags") or ""):
                item += " [small base]"
            parts.append(item)
        hidden = [row["name"] for row in r.result.table if not row.get("rank")]
        tail = f"\nNot shown (base too low): {', '.join(hidden)}." if hidden else ""
        if paired:
            tail += (f"\nEach gap is tested with a {paired[0]}: the HCPs who rated both the "
                     "brand and the leader, on their within-HCP difference.")
        return f"{head}:\n" + "\n".join(parts) + tail + self._defaults(q)

    def _paired_gap(self, kpi_id: str, test: dict[str, Any]) -> str:
        """A ranking line's paired test: its own difference over its own raters ("among the
        87 HCPs who rated both: -2 points, not significant at 95%"), "" if it did not run."""
        if not is_paired(test) or test.get("p_value") is None or test.get("difference") is None:
            return ""
        n = (test.get("detail") or {}).get("n_common")
        diff = self._tested_kpi(kpi_id, test["difference"]).format_change(test["difference"])
        return (f"among the {n} HCPs who rated both: {diff}, "
                f"{self._significance(test, name=False)}")

    def _trend(self, q: Query, r: Routed, d: Draft) -> str:
        kpi = get_kpi(q.kpi or "nps")
        rows = r.result.table
        head = f"{kpi.label} for {self._where(q, r)}, over waves"
        if not rows:
            return f"{head}: no data."
        lines = [f"{head}:"]
        shown: dict[Any, float] = {}  # last value shown per channel line
        for row in rows:
            ch = f" {row['channel']}" if row.get("channel") else ""
            if "suppressed" in (row.get("flags") or ""):
                lines.append(f"- {row['wave']}{ch}: base too low, not shown")
                continue
            line = f"- {row['wave']}{ch}: {kpi.format(row['value'])}"
            before = shown.get(row.get("channel"))
            if row.get("change") is not None:
                pair = None if before is None else (before, row["value"])
                line += (f" ({self._change(kpi.id, row['change'], pair)} vs previous, "
                         f"{self._significance(row, name=False)})")
            if "small_base" in (row.get("flags") or ""):
                line += " [small base]"
            if row.get("value") is not None:
                shown[row.get("channel")] = row["value"]
            lines.append(line)
        notes = [e["text"] for e in r.result.evidence_of("note") if "light wave" in e["text"]]
        return "\n".join(lines + notes) + self._defaults(q)

    def _compare(self, q: Query, r: Routed, d: Draft) -> str:
        kpi = get_kpi(q.kpi or "nps")
        c = q.compare
        res = r.result
        if res.analysis == "ranking":  # asked about the leader and is the leader
            leader = res.summary.get("leader")
            if leader is None:
                return self._coverage(q) or "No brand has enough base to name a leader."
            scope = ", ".join(p for p in (self._name("ta", q.ta), self._name("market", q.market),
                                          self._channel_kpi_part(q, r, True),
                                          self._among(q, r), q.wave) if p)
            return (f"{self._name('brand', leader)} is the {kpi.label} leader in {scope}: "
                    + self._value(res.values[0].to_dict()) + "." + self._defaults(q))
        sides = [next((v for v in (x.to_dict() for x in res.values)
                       if self._is_side(c.dimension, side, v)), None) for side in (c.a, c.b)]
        labels = [self._side_label(q, c.dimension, x) for x in (c.a, c.b)]
        tas = self._brand_tas(c) if c.dimension == "brand" else []
        # The scope without the compared dimension: its two sides are named on their own.
        cleared: dict[str, Any] = {"brands": [] if c.dimension == "brand" else q.brands,
                                   "markets": [] if c.dimension == "market" else q.markets,
                                   "ta": None if len(set(tas)) > 1 else q.ta}
        if c.dimension in ("prescriber", "specialty", "setting", "channel", "company"):
            cleared[c.dimension] = None
        scope = self._where(q.copy(**cleared), r)
        waves = "" if c.dimension == "wave" else f", {q.wave}"
        lead = self._leader_note(q, r)
        text = f"{kpi.label}{', ' + scope if scope else ''}{waves}: " + " vs ".join(
            f"{label} {self._value(v) if v else 'no data'}" for label, v in zip(
                labels, sides, strict=True)) + lead
        s = res.summary
        if s.get("difference") is not None:
            shown = tuple(v["value"] for v in sides) if all(
                v and v["value"] is not None for v in sides) else None
            if c.dimension == "wave":
                text += (f". Change {labels[0]} to {labels[1]}: "
                         f"{self._change(kpi.id, s['difference'], shown)}")
                text = self._presumed_direction(q, kpi.label, s["difference"], labels) + text
            else:
                diff = self._difference(kpi.id, abs(s["difference"]), shown).lstrip("+")
                if self._change(kpi.id, s["difference"], shown) == "unchanged":
                    # the two values show alike: their difference at one more decimal
                    diff = self._tested_kpi(kpi.id, s["difference"]).format_change(
                        abs(s["difference"])).lstrip("+")
                side = "above" if s["difference"] > 0 else "below"
                groups = c.dimension in _SEGMENT_GROUPS or labels[1].startswith("HCPs ")
                subject = labels[1][:1].upper() + labels[1][1:]
                text += f". {subject} {'are' if groups else 'is'} {diff} {side} {labels[0]}"
            tests = res.evidence_of("test")
            test = tests[0] if tests else None
            why = (f"they are in different therapy areas, {self._name('ta', tas[0])} and "
                   f"{self._name('ta', tas[1])}") if len(set(tas)) > 1 else ""
            paired = self._paired(kpi.id, test, labels[1], labels[0])
            if paired:  # it tests its own difference, on the HCPs who rated both
                text += "; " + paired
            else:
                text += ", " + self._significance(test or s, why=why)
                if test is not None and test.get("p_value") is not None and approximate(
                        res.evidence):
                    text += f", {_APPROXIMATE}"
        elif self._coverage(q):
            text += ". " + self._coverage(q)
        return text + "." + self._defaults(q)

    @staticmethod
    def _is_side(dimension: str, side: Any, v: dict[str, Any]) -> bool:
        """Whether a value is one side of a comparison: by its label of that dimension, or for
        a segment dimension by the engine's segment label ("prescribers / gp")."""
        if dimension not in _SEGMENT_GROUPS:
            return v.get(dimension) == side
        own = segment_label({dimension: side})
        return own is not None and own in str(v.get("segment") or "").split(" / ")

    def _side_label(self, q: Query, dimension: str, side: Any) -> str:
        """One side of a comparison by name; a channel compared on a KPI that is not measured
        per channel names the HCPs it reached ("HCPs reached by MSL visit")."""
        if dimension == "wave":
            return str(side)
        if dimension == "channel" and not self._is_channel_kpi(q):
            return "HCPs reached by " + channel_words(self._name("channel", side))
        if dimension in ("prescriber", "specialty", "setting"):
            return among_phrase({dimension: side}).removeprefix("among ")
        return self._name(dimension, side)

    def _leader_note(self, q: Query, r: Routed) -> str:
        """" (the leader)" after the leader's value when the comparison was with the leader;
        and among which HCPs it leads when the ranking that found it was not computed among
        the same HCPs as the comparison."""
        ranking = r.extra.get("ranking")
        if ranking is None:
            return ""
        among, compared = self._among(q, ranking), self._among(q, r)
        if among == compared:
            return " (the leader)"
        return f" (the leader {among or 'among all HCPs'}, not necessarily {compared})"

    def _presumed_direction(self, q: Query, label: str, difference: float,
                            labels: list[str]) -> str:
        """A plain note when the question presumes the other direction ("is the drop
        significant?" for a rise), so the answer cannot be misread as confirming it."""
        words = f" {normalise(q.text)} "
        presumed = [d for d, ws in self.lex.rules["direction_words"].items()
                    if any(f" {w} " in words for w in ws)]
        actual = "up" if difference > 0 else "down" if difference < 0 else None
        if len(presumed) != 1 or actual is None or presumed[0] == actual:
            return ""
        went = "rose" if actual == "up" else "fell"
        return (f"Note: the question presumes a {'drop' if actual == 'up' else 'rise'}, but "
                f"{label} {went} from {labels[0]} to {labels[1]}.\n")

    def _brand_tas(self, c: Any) -> list[str]:
        """The therapy areas of the two brands compared (one each)."""
        return [self.lex.brand_ta.get(b, "") for b in (c.a, c.b)]

    def _explain_change(self, q: Query, r: Routed, d: Draft) -> str:
        kpi = get_kpi(q.kpi or "nps")
        s = r.result.summary
        where = self._where(q, r)
        if len(q.waves) < 2 or s.get("change") is None:
            base = self._coverage(q) or (f"Cannot explain a change of {kpi.label} for {where}: "
                                         + ("; ".join(r.result.warnings) or "no earlier wave"))
            return base + self._defaults(q)
        by_wave = {v.wave: v.to_dict() for v in r.result.values}
        ends = [f"{kpi.format(s[key])} ({w}{self._base_flag(by_wave.get(w))})"
                for key, w in (("value_from", q.waves[0]), ("value_to", q.waves[1]))]
        tests = r.result.evidence_of("test")
        lines = ["From the data:",
                 f"{kpi.label} for {where} went from {ends[0]} to {ends[1]}: "
                 f"{self._change(kpi.id, s['change'], (s['value_from'], s['value_to']))}, "
                 f"{self._significance(tests[0] if tests else s)}."]
        lines += [x for x in (self._contributions(kpi.id, s), self._mix_rate(kpi.id, s),
                              self._channel_moves(s)) if x]
        if r.passages:
            lines += ["", "What the wave reports say (documents, not computed):"]
            for p in r.passages[:2]:
                lines.append(f"\u201c{excerpt(p['text'])}\u201d ({p['title']}, {p['source']})")
        elif r.retrieval_warning:
            lines += ["", f"No wave-report passages: {r.retrieval_warning}."]
        return "\n".join(lines) + self._defaults(q)

    def _base_flag(self, v: dict[str, Any] | None) -> str:
        """The small-base flag of a value with its effective base, else nothing."""
        if v is None or "small_base" not in v["flags"]:
            return ""
        return ("; small base, effective base "
                f"{self._base_below(v['effective_base'], self.thresholds.small_below, 0)}")

    def _contributions(self, kpi_id: str, s: dict[str, Any]) -> str:
        """The largest driver contributions, and how much of the change they leave
        unexplained (the chart's "not explained" step)."""
        contrib = [c for c in s.get("contributions", []) if abs(c["contribution"]) >= 0.5][:4]
        if not s.get("contributions"):
            return ""
        text = ("Largest driver contributions: " + "; ".join(
            f"{c['predictor'].replace('_', ' ')} {self._difference(kpi_id, c['contribution'])}"
            for c in contrib) + ". ") if contrib else ""
        if s.get("unexplained") is not None:
            text += (f"Together the contributions account for "
                     f"{self._difference(kpi_id, s['explained'])} of the change, leaving "
                     f"{self._difference(kpi_id, s['unexplained'])} unexplained.")
        return text.strip()

    def _mix_rate(self, kpi_id: str, s: dict[str, Any]) -> str:
        """Step 4: how much of the change is a shift between segments (mix) and how much a
        change within them (rate)."""
        m = s.get("mix") or {}
        if m.get("rate") is None:
            return ""
        groups = _SEGMENT_GROUPS.get(m.get("segment") or "", f"{m.get('segment')} groups")
        rest = m.get("remainder") or 0.0
        remainder = (f", remainder {self._difference(kpi_id, rest)}"
                     if self._change(kpi_id, rest) != "unchanged" else "")
        return (f"Mix versus rate across {groups}: rate (change within each group) "
                f"{self._difference(kpi_id, m['rate'])}, mix (change in the groups' shares) "
                f"{self._difference(kpi_id, m['mix'])}, interaction "
                f"{self._difference(kpi_id, m['interaction'])}{remainder}.")

    def _channel_moves(self, s: dict[str, Any]) -> str:
        chans = [c for c in s.get("channels", []) if c.get("reach_delta") is not None
                 and abs(c["reach_delta"]) >= 5][:3]
        if not chans:
            return ""
        return "Channel reach moves: " + "; ".join(
            f"{self._name('channel', c['channel'])} "
            f"{self._difference('channel_reach', c['reach_delta'])}" for c in chans) + "."

    def _channel_mix(self, q: Query, r: Routed, d: Draft) -> str:
        rows = r.result.table
        head = f"Channel mix for {self._where(q, r, channel=False)}, {q.wave}"
        reached = [row for row in rows if row.get("reach")]
        if not reached:
            return self._coverage(q) or f"{head}: no channel data."
        reach_kpi, impact_kpi = get_kpi("channel_reach"), get_kpi("channel_impact")
        reach = {v["channel"]: v for v in (x.to_dict() for x in r.result.values)
                 if v["kpi"] == "channel_reach"}
        impact = self._channel_impacts(q, r, d)
        lines = self._impact_index_lead(q, rows, d)
        lines.append(f"{head} (reach among the brand's raters; impact 0-10 among those "
                     "reached):")
        with_index = q.kpi == "channel_impact_index"
        for row in reached:
            line = f"- {row['name']}: reach {reach_kpi.format(row['reach'])}"
            line += self._small(reach.get(row["channel"]))
            imp = impact.get(row["channel"])
            if imp is None or "empty" in imp["flags"]:
                line += ", no impact ratings"
            elif imp["value"] is None:
                line += ", impact not shown (base too low)"
            else:
                line += f", impact {impact_kpi.format(imp['value'])}{self._small(imp)}"
                if with_index and row.get("impact_index") is not None:
                    line += f", index {get_kpi('channel_impact_index').format(row['impact_index'])}"
            lines.append(line)
        unreached = [row["name"] for row in rows if not row.get("reach")]
        if unreached:
            lines.append(f"Not shown: {', '.join(unreached)} (no interactions with "
                         f"{self._name('brand', q.brand)} in this wave).")
        top = impact.get(r.result.summary.get("top_impact") or "")
        if top is not None and top["value"] is not None:
            small = ", small base" if "small_base" in top["flags"] else ""
            lines.append(f"Best experience: {self._name('channel', top['channel'])} (impact "
                         f"{impact_kpi.format(top['value'])}{small}).")
        return "\n".join(lines) + self._defaults(q)

    def _impact_index_lead(self, q: Query, rows: list[dict[str, Any]], d: Draft) -> list[str]:
        """For a question about one channel's impact index, that index first: impact divided
        by the same brand's impact of the reference channel (face-to-face rep visit; MSL
        visit for medical channels), as a headline value."""
        row = next((x for x in rows if x["channel"] == q.channel), None)
        if q.kpi != "channel_impact_index" or row is None:
            return []
        index_kpi, impact_kpi = get_kpi("channel_impact_index"), get_kpi("channel_impact")
        name, ref = row["name"], self._name("channel", row.get("impact_reference"))
        if row.get("impact_index") is None:
            return [f"{index_kpi.label} of {name}: not available (its impact or the reference "
                    f"{ref}'s is not shown: no ratings or base too low)."]
        ref_row = next((x for x in rows if x["channel"] == row.get("impact_reference")), {})
        d.values.append({**self._impact_value(q, row), "kpi": "channel_impact_index",
                         "value": row["impact_index"], "flags": []})
        return [f"{index_kpi.label} of {name}: {index_kpi.format(row['impact_index'])} "
                f"(impact {impact_kpi.format(row['impact'])} vs {ref} "
                f"{impact_kpi.format(ref_row.get('impact'))}; the reference channel = 1.00; "
                "relative and directional, not additive)."]

    def _channel_impacts(self, q: Query, r: Routed, d: Draft) -> dict[str, dict[str, Any]]:
        """Impact per channel as headline values: the engine's when its result lists them,
        else built from its table and added to the draft, so that the answer's values hold
        every impact the text states."""
        listed = {v["channel"]: v for v in (x.to_dict() for x in r.result.values)
                  if v["kpi"] == "channel_impact"}
        if listed:
            return listed
        built = {row["channel"]: self._impact_value(q, row) for row in r.result.table
                 if row.get("reach") and row.get("impact_base")}
        d.values += built.values()
        return built

    def _impact_value(self, q: Query, row: dict[str, Any]) -> dict[str, Any]:
        """One channel's impact in the values' shape; its base is the raters reached."""
        n_eff = row.get("impact_effective_base")
        # Without the effective base, the unweighted n bounds it from above (n_eff <= n):
        # an n below the small-base threshold is a small base for certain.
        flag_base = n_eff if n_eff is not None else row["impact_base"]
        flags = (["suppressed"] if row.get("impact") is None else
                 ["small_base"] if flag_base < self.thresholds.small_below else [])
        return {"kpi": "channel_impact", "brand": q.brand, "market": q.market, "ta": q.ta,
                "wave": q.wave, "segment": None, "channel": row["channel"],
                "value": row.get("impact"), "base": row["impact_base"],
                "effective_base": n_eff, "ci_low": None, "ci_high": None, "flags": flags}

    def _small(self, v: dict[str, Any] | None) -> str:
        return " [small base]" if v is not None and "small_base" in v["flags"] else ""

    def _key_drivers(self, q: Query, r: Routed, d: Draft) -> str:
        s, rows = r.result.summary, r.result.table
        scope = ", ".join(p for p in (self._name("ta", q.ta), self._name("market", q.market),
                                      self._among(q, r), q.wave or "all full waves") if p)
        if not rows:
            return (self._coverage(q.copy(kpi="driver:knowledge")) or
                    f"No driver analysis for {scope}: " + "; ".join(r.result.warnings)) + "."
        share = get_kpi("promoters_pct")  # whole-% display, like every share
        top = "; ".join(f"{row['predictor'].replace('_', ' ')} "
                        f"{share.format(row['importance_pct'])}"
                        + (f" ({row['quadrant']})" if row.get("quadrant") else "")
                        for row in rows[:5])
        whose = (f"; quadrants from {self._name('brand', q.brand)}'s performance"
                 if q.brand and any(row.get("quadrant") for row in rows) else "")
        text = (f"What drives recommendation (NPS) in {scope}, Shapley importance{whose}: {top}. "
                f"CX drivers together {share.format(s['cx_share'])}, product "
                f"{share.format(s['product_share'])}.")
        if s.get("fix"):
            text += " Fix first: " + ", ".join(f.replace("_", " ") for f in s["fix"]) + "."
        return text + self._defaults(q)

    def _perception_gap(self, q: Query, r: Routed, d: Draft) -> str:
        s = r.result.summary
        if not s.get("cells"):
            return "No internal estimates to compare with for this selection."
        kpi = get_kpi(s["kpi"])
        d.figures["relative_gap_pct"] = round(100 * s["relative_gap"], 4)
        d.figures["share_overshooting_pct"] = round(100 * s["share_overshooting"], 4)
        who = self._where(q, r) or "all companies"
        pct = get_kpi("promoters_pct")
        return (f"Perception gap on {kpi.label} ({who}): internal estimates are "
                f"{kpi.format_change(s['mean_gap']).lstrip('+')} above the HCP view on average "
                f"(relative gap {pct.format(d.figures['relative_gap_pct'])}), over "
                f"{s['cells']} brand x market x wave cells; "
                f"{pct.format(d.figures['share_overshooting_pct'])} of estimates overshoot."
                + self._defaults(q))

    def _correlation(self, q: Query, r: Routed, d: Draft) -> str:
        rows = r.result.table
        if not rows:
            return "Not enough brand x market cells to correlate: " + "; ".join(
                r.result.warnings) + "."
        parts = [f"{row['x'].replace('_', ' ')} vs {row['y'].replace('_', ' ')} r = "
                 f"{row['r']:.2f} ({self._significance(row, name=False)})" for row in rows]
        return (f"Across {rows[0]['cells']} brand x market x wave cells "
                f"({self._name('ta', q.ta) or 'all therapy areas'}): " + "; ".join(parts)
                + ". Correlation is not causation.")
