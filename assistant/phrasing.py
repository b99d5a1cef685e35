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
from cxengine.kpi_sql import CHANNEL_ROW_SETS
from cxengine.kpis import Kpi, get_kpi
from cxengine.stats import DEFAULT_THRESHOLDS, Thresholds, format_below

_PASSAGE_CHARS = 420
_SEGMENT_DIMS = ("prescriber", "specialty", "setting")
# Why a significance test could not run (the engine's `detail.reason`), in words.
_UNTESTABLE = {"no common raters": "no HCP rated both brands",
               "zero standard error": "the scores do not vary",
               "a: base too low": "the base of one side is too low",
               "b: base too low": "the base of one side is too low",
               "a: no estimate": "one side has no ratings",
               "b: no estimate": "one side has no ratings"}
# Segment ids in words: specialties as plural nouns, settings as adjectives.
_SPECIALTY_PLURAL = {"gp": "GPs"}
_SETTING_WORDS = {"hospital": "hospital-based", "office": "office-based"}


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

    # --- scope: what was computed on what -------------------------------
    def _where(self, q: Query, r: Any = None, *, channel: bool = True) -> str:
        """The scope of an answer: subject (brands, company or TA), markets, then the HCPs it
        was computed among (segment, channel reached; see `_among`). Every numeric writer
        states its scope through here or through `_among`, so none leaves out a filter."""
        subject = (", ".join(self._name("brand", b) for b in q.brands)
                   or q.company or self._name("ta", q.ta))
        parts = [subject, " and ".join(self._name("market", m) for m in q.markets)]
        parts += [self._channel_kpi_part(q, r, channel), self._among(q, r, channel=channel)]
        return ", ".join(p for p in parts if p)

    def _among(self, q: Query, r: Any = None, *, channel: bool = True) -> str:
        """The HCPs a result was computed among, in words ("among non-prescribers", "among
        office-based GPs reached by MSL visit"), or "" for all HCPs. Only the filters the
        result was computed with (`_applied`); `channel=False` for an analysis that lists
        channels rather than filtering by one (the channel mix)."""
        seg, reached = self._applied(q, r)
        if not channel or self._is_channel_kpi(q):
            reached = None
        return among_phrase(seg, channel_words(self._name("channel", reached))
                            if reached else None)

    def _channel_kpi_part(self, q: Query, r: Any, channel: bool) -> str:
        """For a KPI measured per channel (reach, impact), the channel it is measured for:
        the subject of the KPI, not a filter on the HCPs."""
        if not channel or not self._is_channel_kpi(q):
            return ""
        return self._name("channel", self._applied(q, r)[1])

    def _is_channel_kpi(self, q: Query) -> bool:
        try:
            return bool(q.kpi) and get_kpi(q.kpi).rows in CHANNEL_ROW_SETS
        except (KeyError, ValueError):
            return False

    def _applied(self, q: Query, r: Any = None) -> tuple[dict[str, Any], str | None]:
        """The segment filters and the channel of `q` that the result (`r`: a routed query
        or an engine result) was computed with: the filters of its summary when it records
        them, else what its values are labelled with; without either, what `q` asks."""
        seg, channel = q.segment(), q.channel
        res = getattr(r, "result", r)
        if res is None or not (seg or channel):
            return seg, channel
        filters = (res.summary or {}).get("filters")
        if isinstance(filters, dict):
            return ({k: v for k, v in seg.items() if filters.get(k) is not None},
                    channel if channel and channel in _as_list(filters.get("channel")) else None)
        values = [v if isinstance(v, dict) else v.to_dict() for v in res.values]
        if not values:
            return seg, channel
        return (seg if any(v.get("segment") for v in values) else {},
                channel if any(v.get("channel") == channel for v in values) else None)

    def _unapplied(self, q: Query, r: Any = None, *, channel: bool = True) -> str:
        """A plain note when the question names HCPs (a segment, a channel reached) the
        analysis was not computed among, so the answer is not read as being about them."""
        seg, reached = self._applied(q, r)
        asked_seg = {k: v for k, v in q.segment().items() if k not in seg}
        asked_ch = q.channel if (channel and q.channel and reached is None
                                 and not self._is_channel_kpi(q)) else None
        if not (asked_seg or asked_ch):
            return ""
        who = among_phrase(asked_seg, channel_words(self._name("channel", asked_ch))
                           if asked_ch else None)
        return (f"\nNote: not restricted to {who.removeprefix('among ')}: this analysis was "
                "computed over all HCPs of the selection.")

    def _value(self, v: dict[str, Any]) -> str:
        kpi = get_kpi(v["kpi"])
        if v["value"] is None:
            if "empty" in v["flags"]:
                return "no ratings"
            return ("not shown, base too low (effective base "
                    f"{self._base_below(v['effective_base'], self.thresholds.suppress_below)})")
        text = kpi.format(v["value"])
        if v["ci_low"] is not None:
            small = "small_base" in v["flags"]
            n_eff = (self._base_below(v["effective_base"], self.thresholds.small_below, 0)
                     if small else f"{v['effective_base']:.0f}")
            text += (f" ({self.conf_pct}% CI {kpi.format(v['ci_low'])} to "
                     f"{kpi.format(v['ci_high'])}; base {v['base']}, effective base {n_eff}")
            text += ", small base)" if small else ")"
        return text

    def _base_below(self, n_eff: float | None, threshold: float, decimals: int = 1) -> str:
        """An effective base next to the threshold it is below ("base too low", "small
        base"), never written as reaching it: 29.96 is "29.96", not "30.0"."""
        return format_below(n_eff, threshold, decimals)

    def _significance(self, test: Mapping[str, Any] | None, *, name: bool = True,
                      why: str = "") -> str:
        """A test's outcome in words. `test` is a test evidence item, or a summary or row
        with its `significant` and `p_value`. A test without a p-value did not run (no
        common raters, a base too low): that is said, with the reason, never "not
        significant". `why` adds to the engine's reason (e.g. different therapy areas)."""
        if not test or test.get("significant") is None or test.get("p_value") is None:
            reason = self._untestable(test) if test else ""
            reason = "; ".join(r for r in (reason, why) if r)
            return "no significance test was possible" + (f" ({reason})" if reason else "")
        word = "significant" if test["significant"] else "not significant"
        label = test.get("test") if name else None
        return f"{word} at {self.conf_pct}%" + (f"; test: {label}" if label else "")

    def _untestable(self, test: Mapping[str, Any]) -> str:
        """Why a test did not run, in words; too few common raters with their count and
        effective base, written below the threshold (never "30.0 < 30")."""
        reason = untestable_reason(test)
        detail = test.get("detail") or {}
        if reason.startswith("too few common raters") and detail.get("n_eff") is not None:
            least = self.thresholds.suppress_below
            return (f"only {detail.get('n_common')} HCPs rated both, effective base "
                    f"{self._base_below(detail['n_eff'], least)}, below {least:g}")
        return reason

    def _paired(self, kpi_id: str, test: Mapping[str, Any] | None, subject: str,
                other: str = "") -> str:
        """What a paired test tested, in words: "among the 46 HCPs who rated both, Corastin
        is 1 point below Cardiovex, not significant at 95% (paired z-test on common
        raters)". Its difference (b - a, the mean within-HCP difference over the common
        raters) and count come from the test's evidence: it is not the difference of the two
        values shown, which rest on all raters of each brand. "" unless the test is a paired
        test that ran."""
        if not is_paired(test) or test.get("p_value") is None or test.get("difference") is None:
            return ""
        assert test is not None
        n = (test.get("detail") or {}).get("n_common")
        diff = test["difference"]
        kpi = self._tested_kpi(kpi_id, diff)
        than = f" {other}" if other else ""
        if float(_digits(kpi, diff)) == 0:
            said = f"{subject} is level{' with' + than if other else ''}"
        else:
            said = (f"{subject} is {kpi.format_change(abs(diff)).lstrip('+')} "
                    f"{'above' if diff > 0 else 'below'}{than}")
        return (f"among the {n} HCPs who rated both, {said}, "
                f"{self._significance(test, name=False)} ({test.get('test')})")

    def _tested_kpi(self, kpi_id: str, diff: float) -> Kpi:
        """The precision a tested difference is stated at: the KPI's, one decimal more when
        that would write a difference as 0 ("0 points below" reads as none at all)."""
        kpi = get_kpi(kpi_id)
        return replace(kpi, decimals=kpi.decimals + 1) if float(_digits(kpi, diff)) == 0 else kpi

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


def is_paired(test: Mapping[str, Any] | None) -> bool:
    """A paired test on the raters of both sides (brand vs brand in one wave)."""
    return bool(test) and str(test.get("test") or "").startswith("paired")  # type: ignore[union-attr]


def approximate(evidence: list[Mapping[str, Any]]) -> bool:
    """The engine noted that its test treats overlapping sides as independent (channel vs
    channel, company vs company, brands on a KPI without a per-rater score)."""
    return any(e.get("kind") == "note" and "approximate" in str(e.get("text", ""))
               for e in evidence)


def among_phrase(seg: Mapping[str, Any], reached: str | None = None) -> str:
    """The HCPs of a segment (prescriber, specialty, setting) and of a channel reached, in
    words: "among prescribers", "among non-prescribing office-based GPs", "among HCPs
    reached by MSL visit"; "" for all HCPs."""
    presc = seg.get("prescriber")
    specs, settings = _as_list(seg.get("specialty")), _as_list(seg.get("setting"))
    if specs or settings:
        words = [] if presc is None else ["prescribing" if presc else "non-prescribing"]
        if settings:
            words.append(" or ".join(_SETTING_WORDS.get(s, str(s)) for s in settings))
        words.append(" and ".join(_SPECIALTY_PLURAL.get(s, f"{s}s") for s in specs) or "HCPs")
        who = " ".join(words)
    elif presc is not None:
        who = "prescribers" if presc else "non-prescribers"
    elif reached:
        who = "HCPs"
    else:
        return ""
    return f"among {who}" + (f" reached by {reached}" if reached else "")


def channel_words(name: str) -> str:
    """A channel's name inside a sentence: "face-to-face rep visit", "MSL visit"."""
    return name[:1].lower() + name[1:] if name[1:2].islower() else name


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


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
