"""Display rules every answer text follows (DOMAIN §4).

Names instead of ids, a value with its interval and bases, a change and its
significance in words, the assumptions made, and a plain statement when the
data cannot carry the question (light wave, brand not yet launched). The
writers of each intent (analysis_text.py, compose.py) build on these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from assistant.lexicon import Lexicon
from assistant.query import Query
from cxengine.kpis import Kpi, get_kpi
from cxengine.stats import DEFAULT_THRESHOLDS, Thresholds

_PASSAGE_CHARS = 420
_SEGMENT_DIMS = ("prescriber", "specialty", "setting")
# Why a significance test could not run (the engine's `detail.reason`), in words.
_UNTESTABLE = {"no common raters": "no HCP rated both brands",
               "zero standard error": "the scores do not vary",
               "a: base too low": "the base of one side is too low",
               "b: base too low": "the base of one side is too low",
               "a: no estimate": "one side has no ratings",
               "b: no estimate": "one side has no ratings"}


@dataclass
class Draft:
    """What a writer adds to the answer besides its text: figures it derived for display,
    headline values it states that the engine result does not list, and evidence of its
    own (e.g. the KPI definitions it quotes)."""

    figures: dict[str, float] = field(default_factory=dict)
    values: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)


class Phrasing:
    def __init__(self, lexicon: Lexicon, thresholds: Thresholds = DEFAULT_THRESHOLDS):
        self.lex = lexicon
        self.thresholds = thresholds
        self.conf_pct = round(thresholds.confidence * 100)
        # Longest list an answer states; longer results are cut (the table keeps them all).
        self.max_listed: int = lexicon.rules["limits"]["max_listed"]

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
            # One decimal: 29.6 shown as "30" would contradict "below 30".
            return f"not shown, base too low (effective base {v['effective_base']:.1f})"
        text = kpi.format(v["value"])
        if v["ci_low"] is not None:
            text += (f" ({self.conf_pct}% CI {kpi.format(v['ci_low'])} to "
                     f"{kpi.format(v['ci_high'])}; base {v['base']}, effective base "
                     f"{v['effective_base']:.0f}")
            text += ", small base)" if "small_base" in v["flags"] else ")"
        return text

    def _significance(self, test: Mapping[str, Any] | None, *, name: bool = True,
                      why: str = "") -> str:
        """A test's outcome in words. `test` is a test evidence item, or a summary or row
        with its `significant` and `p_value`. A test without a p-value did not run (no
        common raters, a base too low): that is said, with the reason, never "not
        significant". `why` adds to the engine's reason (e.g. different therapy areas)."""
        if not test or test.get("significant") is None or test.get("p_value") is None:
            reason = untestable_reason(test) if test else ""
            reason = "; ".join(r for r in (reason, why) if r)
            return "no significance test was possible" + (f" ({reason})" if reason else "")
        word = "significant" if test["significant"] else "not significant"
        label = test.get("test") if name else None
        return f"{word} at {self.conf_pct}%" + (f"; test: {label}" if label else "")

    def _change(self, kpi_id: str, delta: float | None, shown: tuple[float, float] | None = None
                ) -> str:
        """The change in words (up 10 points, down 3 points, unchanged); given the two values
        the text shows (`shown`: from, to), at the precision `difference_kpi` picks."""
        if delta is None:
            return "change not available"
        kpi = difference_kpi(get_kpi(kpi_id), delta, shown)
        if float(_digits(kpi, delta)) == 0:
            return "unchanged"
        return f"{'up' if delta > 0 else 'down'} {kpi.format_change(abs(delta)).lstrip('+')}"

    def _difference(self, kpi_id: str, delta: float, shown: tuple[float, float] | None = None
                    ) -> str:
        """A signed difference ("+3 points"), at the precision `difference_kpi` picks."""
        return difference_kpi(get_kpi(kpi_id), delta, shown).format_change(delta)

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

    def _label(self, dims: list[str], v: dict[str, Any]) -> str:
        """The group a broken-down value belongs to. The engine names the segment dimensions
        together in one `segment` label, so it is said once, not once per dimension."""
        parts: list[str] = []
        for d in dims:
            part = (v.get("segment") or "all") if d in _SEGMENT_DIMS else self._name(d, v.get(d))
            if part not in parts:
                parts.append(str(part))
        return " / ".join(parts) or "all"

    def _names(self, slot: str, ids: list[str]) -> list[str]:
        return [self.lex.name(slot, i) for i in ids]


def difference_kpi(kpi: Kpi, delta: float, shown: tuple[float, float] | None) -> Kpi:
    """The one rounding rule for every difference an answer states between two values it
    shows: at the KPI's display precision when that equals the difference of the two
    values as shown, else with one more decimal. "-3 vs -3 ... 0.5 points above" and
    "5.6 vs 5.3 ... 0.35 below" read right; "1 point above" and "0.4 below" did not."""
    if shown is None:
        return kpi
    a, b = (float(f"{x:.{kpi.decimals}f}") for x in shown)
    if _digits(kpi, delta) == _digits(kpi, b - a):
        return kpi
    return replace(kpi, decimals=kpi.decimals + 1)


def _digits(kpi: Kpi, x: float) -> str:
    """abs(x) at the KPI's display precision, without sign or unit."""
    return f"{abs(x):.{kpi.decimals}f}"


def untestable_reason(test: Mapping[str, Any]) -> str:
    """The engine's reason a test did not run, in words ("" when it gives none)."""
    reason = str((test.get("detail") or {}).get("reason") or test.get("reason") or "")
    return _UNTESTABLE.get(reason, reason)


def singular(text: str) -> str:
    """'1 points' -> '1 point' (the KPI formatter always says points)."""
    return re.sub(r"(?<![0-9.])([+-]?1) points", r"\1 point", text)


def excerpt(text: str) -> str:
    """A passage cut to a quotable length at a word boundary."""
    text = " ".join(text.split())
    return text if len(text) <= _PASSAGE_CHARS else text[:_PASSAGE_CHARS].rsplit(" ", 1)[0] + "..."
