"""Completing a parsed `Query` with the assumptions its analysis needs.

`Completion.complete` fills what a question left out (latest wave carrying the KPI,
TA from the brand, the previous wave for a "why") and records each assumption in
`query.defaults`; when a slot cannot be assumed (a brand KPI without market) it sets
`query.clarify` with the valid options instead, and refuses a breakdown too large to
run. The router (router.py) then runs the completed query.
"""

from __future__ import annotations

from typing import Any

from assistant.lexicon import Lexicon, normalise
from assistant.query import Clarify, Compare, Query
from cxengine.kpis import catalogue as kpi_catalogue

NUMERIC = ("kpi_value", "ranking", "trend", "compare", "explain_change", "channel_mix",
           "key_drivers", "perception_gap", "correlation")
DEFAULT_KPI = "nps"
CHANNEL_KPI = "channel_impact"  # what two channels are compared on when no KPI is named
_DRIVER_KPI = "driver:knowledge"  # any driver: carried by full waves only
# Entity slot -> the query field it fills.
_SLOT_FIELDS = {"brand": "brands", "market": "markets", "wave": "waves"}
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


class Completion:
    """The defaults and clarifications of a numeric question, read from the lexicon."""

    def __init__(self, lexicon: Lexicon):
        self.lex = lexicon

    def complete(self, q: Query) -> Query:
        """A copy of `q` with its defaults filled, or with the clarification or refusal
        that stops it; the steps run in order, each on what the previous ones settled."""
        q = q.copy(brands=list(q.brands), markets=list(q.markets), waves=list(q.waves),
                   defaults=list(q.defaults), by=list(q.by))
        self._say_inherited(q)
        self._say_excluded(q)
        if q.documents == "wave_report":
            self._wave_report_scope(q)
        if (q.clarify is not None or q.intent not in NUMERIC or q.unknown_markets
                or q.unknown_waves or q.refusal is not None):
            return q
        q.clarify = self._did_you_mean(q)
        if q.clarify is not None:
            return q
        self._kpi_intent(q)
        self._default_kpi(q)
        self._one_kpi(q)
        self._order(q)
        if q.compare is not None and q.compare.dimension == "company" \
                and q.intent in ("compare", "kpi_value"):
            self._companies_brand_by_brand(q)
        q.clarify = self._company_brands(q)
        if q.clarify is not None:
            return q
        if q.ta is None and q.brands:
            q.ta = self._brands_ta(q.brands)
        if q.intent == "kpi_value" and not (q.brands or q.company) and q.ta \
                and "brand" not in q.by:
            q.intent = "ranking"  # "NPS in cardiology in Germany": every brand of the TA
        self._many_compared(q)
        self._several_values(q)
        self._split_trend(q)
        if q.intent == "kpi_value" and len(breakdown_dims(q)) > self.lex.rules["limits"][
                "max_breakdowns"]:
            # Cells multiply with every breakdown and most fall below the base threshold:
            # refused before any SQL runs, not cut afterwards.
            q.refusal = "too_large"
            return q
        q.clarify = self._event_wave(q)
        if q.clarify is not None:
            return q
        q.clarify = self._resolve_waves(q) or self._before_launch(q)
        if q.clarify is not None:
            return q
        q.clarify = self._single_values(q)
        if q.clarify is not None:
            return q
        for slot in REQUIRED.get(q.intent, ()):
            missing = self._missing(q, slot)
            if missing is not None:
                q.clarify = missing
                return q
        if q.intent == "compare":
            return self._complete_compare(q)
        return q

    def _default_kpi(self, q: Query) -> None:
        """No KPI named (or only the perception gap, an analysis): channels are compared on
        channel impact, other analyses of one KPI on NPS."""
        if q.kpi is not None and q.kpi != "perception_gap":
            return
        if q.compare is not None and q.compare.dimension == "channel":
            q.kpi = CHANNEL_KPI
            q.defaults.append("channel impact (no KPI named: channels are compared on "
                              "the experience they give)")
        elif q.intent not in ("key_drivers", "correlation", "channel_mix", "perception_gap"):
            q.kpi = DEFAULT_KPI
            q.defaults.append("NPS (no KPI named)")

    def _one_kpi(self, q: Query) -> None:
        """Every KPI named is in `kpis`; one analysis answers one, the first: the answer says
        so, and how to ask for the others."""
        if q.kpi and q.kpi not in q.kpis:
            q.kpis = [q.kpi, *q.kpis] if not q.kpis else list(q.kpis)
        if not q.kpis and q.kpi:
            q.kpis = [q.kpi]
        others = [k for k in q.kpis if k != q.kpi]
        if not others or q.intent not in self.lex.rules["one_kpi_intents"]:
            return
        asks = " or ".join(f"'and {self._kpi_word(k)}?'" for k in others)
        names = ", ".join(kpi_catalogue()[k].label for k in others)
        q.defaults.append(f"answered for {kpi_catalogue()[q.kpi or ''].label} only; ask {asks} "
                          f"for {names}")

    def _kpi_word(self, kpi_id: str) -> str:
        """A short word that names the KPI again in a follow-up ("csat", "product score")."""
        weak = set(self.lex.rules.get("weak_kpi_words") or []) | set(
            self.lex.rules.get("vague_kpi_words") or [])
        words = [w for w in kpi_catalogue()[kpi_id].synonyms
                 if w not in weak and self.lex.phrases.get(normalise(w), [None])[0] is not None
                 and self.lex.phrases[normalise(w)][0].id == kpi_id]
        return min(words, key=len) if words else kpi_catalogue()[kpi_id].label

    def _order(self, q: Query) -> None:
        """"worst"/"bottom" is the lowest value first unless lower is better (detractors)."""
        if q.order == "worst":
            kpi = kpi_catalogue().get(q.kpi or "")
            q.order = "ascending" if kpi is None or kpi.higher_is_better else "descending"

    def _company_brands(self, q: Query) -> Clarify | None:
        """A company's value pools ratings of its brands across therapy areas, so it moves
        with the sample mix: a value or a trend is answered brand by brand; an analysis of one
        brand asks which."""
        if not q.company or q.brands or q.compare is not None and q.compare.dimension in (
                "company", "brand"):
            return None
        if q.intent not in ("kpi_value", "trend", "compare", "explain_change", "channel_mix"):
            return None
        brands = self.lex.brands_for(ta=q.ta, company=q.company, markets=q.markets,
                                     waves=q.waves)
        if not brands:
            return None
        names = self._names("brand", brands)
        if len(brands) == 1:
            q.brands = brands
            q.defaults.append(f"{q.company}: its brand {names[0]}")
            return None
        if q.intent not in ("kpi_value", "trend"):
            return Clarify("brand", "which brand", names, brands,
                           f"A value for {q.company} would pool its brands across therapy "
                           "areas.")
        q.brands = brands
        if "brand" not in q.by:
            q.by.insert(0, "brand")
        q.defaults.append(f"{q.company} brand by brand, not pooled across therapy areas: "
                          + ", ".join(names))
        return None

    def _many_compared(self, q: Query) -> None:
        """Three or more brands, markets or waves compared: one value each (a test compares
        two sides, so none is run: the answer says how to ask for one); waves: a trend over
        them, each change tested against the wave before."""
        c = q.compare
        slot = {"brand": "brands", "market": "markets", "wave": "waves"}.get(
            c.dimension if c is not None else "")
        if q.intent != "compare" or c is None or slot is None or len(getattr(q, slot)) <= 2:
            return
        values = getattr(q, slot)
        q.compare = None
        if c.dimension == "wave":
            q.intent = "trend"
            q.defaults.append(f"{len(values)} waves compared: a trend over them, each change "
                              "tested against the wave named before it")
            return
        q.intent = "kpi_value"
        if c.dimension not in q.by:
            q.by.insert(0, c.dimension)
        names = self._names(c.dimension, values)
        q.defaults.append(f"{len(values)} {c.dimension}s compared: one value each, no "
                          f"significance test (a test compares two; ask e.g. '{names[0]} vs "
                          f"{names[1]}')")

    def _split_trend(self, q: Query) -> None:
        """A trend split by a group (brand by brand, by specialty): one value per group and
        wave; the significance of each change is tested for one series only."""
        dims = [d for d in q.by if d != "wave"]
        if q.intent != "trend" or not dims:
            return
        q.intent = "kpi_value"
        q.by = [*dims, "wave"]
        q.defaults.append(f"one value per {' and '.join(dims)} and wave; the change from wave "
                          f"to wave is tested for one series: ask for one {dims[0]}")

    def _event_wave(self, q: Query) -> Clarify | None:
        """An event the data does not date ("before the field force cut"): which wave?"""
        if q.event is None or q.waves or (q.wave_ref or "").startswith(("since:", "before:")):
            return None
        options = self.lex.waves_for(self._wave_kpi(q))
        if q.intent == "explain_change":
            options = options[1:]  # the wave a change ends in
        what = ("the change should end in" if q.intent == "explain_change"
                else "the question is about")
        return Clarify("wave", "which wave", list(options), list(options),
                       f"The benchmark data has no date for {q.event} (only the wave reports "
                       f"describe it), so the wave {what} has to be named.")

    def _before_launch(self, q: Query) -> Clarify | None:
        """A series of waves for a brand: the waves before its launch in the markets named
        are left out (no HCP rated it); when none is left, said plainly, with the waves that
        have ratings."""
        if not (q.brands and q.markets and len(q.waves) > 1):
            return None
        rated = [w for w in q.waves if any(self.lex.launched(b, m, w)
                                          for b in q.brands for m in q.markets)]
        if rated == q.waves:
            return None
        brands = " and ".join(self._names("brand", q.brands))
        markets = ", ".join(self._names("market", q.markets))
        if rated:
            left = [w for w in q.waves if w not in rated]
            q.waves = rated
            q.defaults.append(f"{', '.join(left)} left out: {brands} was not yet launched in "
                              f"{markets}")
            return None
        later = [w for w in self.lex.waves_for(q.kpi) if any(
            self.lex.launched(b, m, w) for b in q.brands for m in q.markets)]
        return Clarify("wave", "which wave", list(later), list(later),
                       f"{brands} was not yet launched in {markets} in {q.waves[0]} to "
                       f"{q.waves[-1]}: no HCP rated it in those waves.")

    def _brands_ta(self, brands: list[str]) -> str | None:
        """The therapy area of the brands, when they share one."""
        tas = {self.lex.brand_ta.get(b) for b in brands}
        return tas.pop() if len(tas) == 1 else None

    def _say_inherited(self, q: Query) -> None:
        """The slots taken from the conversation, said in the answer by name."""
        named = []
        inherited = q.inherited
        if q.intent in ("definition", "methodology") and q.documents != "wave_report":
            # A definition does not depend on the brand, market or wave of the conversation
            # (they stay in it for the next turn); only an inherited KPI is what it is about.
            inherited = [slot for slot in inherited if slot == "kpi"]
        for slot in inherited:
            if slot == "ta" and "brands" in q.inherited:
                continue  # the brand's own therapy area goes without saying
            value = getattr(q, slot, None)
            values = value if isinstance(value, list) else [value]
            named += [self._slot_name(slot, v) for v in values if v is not None]
        if named:
            q.defaults.append("from the conversation: " + ", ".join(dict.fromkeys(named)))

    def _say_excluded(self, q: Query) -> None:
        """"except Germany": the markets answered instead, while they are the complement (a
        reply choosing one of them narrows it)."""
        out = q.excluded.get("market") or []
        if out and len(q.markets) > 1 and not set(out) & set(q.markets):
            q.defaults.append(f"excluding {', '.join(self._names('market', out))}: "
                              + ", ".join(self._names("market", q.markets)))

    def _slot_name(self, slot: str, value: Any) -> str:
        if slot == "kpi":
            kpi = kpi_catalogue().get(str(value))
            return kpi.label if kpi is not None else str(value)
        if slot == "prescriber":
            return "prescribers" if value else "non-prescribers"
        single = {"brands": "brand", "markets": "market", "waves": "wave"}.get(slot, slot)
        return self.lex.name(single, value)

    def _did_you_mean(self, q: Query) -> Clarify | None:
        """A word close to a name but not close enough to read it so: asked back, when the
        slot it could fill is still empty."""
        if not q.did_you_mean:
            return None
        ents = [e for name in q.did_you_mean
                for e in self.lex.phrases.get(normalise(name), [])[:1]]
        empty = [e for e in ents if not getattr(q, _SLOT_FIELDS.get(e.slot, e.slot), None)]
        if not empty:
            return None
        slot = empty[0].slot
        same = [e for e in empty if e.slot == slot]
        return Clarify(slot, "did_you_mean", [e.name for e in same], [e.id for e in same])

    def _kpi_intent(self, q: Query) -> None:
        """A value of a KPI another analysis computes goes to that analysis."""
        target = self.lex.rules["kpi_intents"].get(q.kpi or "")
        if target is not None and q.intent == "kpi_value":
            q.intent = target
            label = kpi_catalogue()[q.kpi or ""].label
            q.defaults.append(f"{label} is computed by the {target.replace('_', ' ')} analysis")

    def _companies_brand_by_brand(self, q: Query) -> None:
        """Two companies compared: their brands side by side, one value each (a company's
        brands are in different therapy areas: one pooled value per company would mix them)."""
        c = q.compare
        assert c is not None
        sides = [self.lex.brands_for(company=x, markets=q.markets, waves=q.waves)
                 for x in (c.a, c.b)]
        q.brands, q.company, q.ta = sides[0] + sides[1], None, None
        q.intent = "kpi_value"
        if "brand" not in q.by:
            q.by.insert(0, "brand")
        q.defaults.append(f"{c.a} vs {c.b} brand by brand, not pooled per company ("
                          + "; ".join(f"{x}: " + ", ".join(self._names("brand", s))
                                      for x, s in zip((c.a, c.b), sides, strict=True)) + ")")

    def _several_values(self, q: Query) -> None:
        """A value question naming several waves, brands or markets: a comparison or trend
        of the waves, one value per brand or market; never one pooled value."""
        if q.intent != "kpi_value":
            return
        if len(q.waves) == 2:
            q.intent = "compare"
            q.compare = Compare("wave", q.waves[0], q.waves[1])
        elif len(q.waves) > 2:
            q.intent, q.compare = "trend", None
            q.defaults.append("a trend over the waves named")
        if q.intent != "kpi_value":
            return
        for slot in self.lex.rules["several_values"]["breakdown"]:
            dim = slot.rstrip("s")
            if len(getattr(q, slot)) > 1 and dim not in q.by:
                q.by.insert(0, dim)
                q.defaults.append(f"one value per {dim} (not pooled)")
                if q.compare is not None and q.compare.dimension == dim:
                    q.compare = None

    def _single_values(self, q: Query) -> Clarify | None:
        """An analysis of one brand, market or wave asked with several: which one?"""
        single = self.lex.rules["several_values"]["single"].get(q.intent, [])
        compared = q.compare.dimension + "s" if (
            q.compare is not None and q.intent == "compare") else None
        for slot in single:
            values = getattr(q, slot)
            if slot != compared and len(values) > 1:
                name = slot.rstrip("s")
                excluded = q.excluded.get(name)
                note = (f"Excluding {', '.join(self._names(name, excluded))} leaves "
                        f"{', '.join(self._names(name, values))}, and a "
                        f"{q.intent.replace('_', ' ')} is for one {name}." if excluded else None)
                return Clarify(name, f"which {name}", self._names(name, values), list(values),
                               note)
        return None

    def _missing(self, q: Query, slot: str) -> Clarify | None:
        every_brand = "brand" in q.by and q.ta is not None  # each brand of the TA
        if slot in ("subject", "brand") and not (
                q.brands or (slot == "subject" and (q.company or every_brand))):
            return self._which_brand(q)
        if slot == "ta" and not q.ta:
            return Clarify("ta", "which therapy area", self._names("ta", self.lex.options["ta"]),
                           list(self.lex.options["ta"]))
        if slot == "market" and not q.markets and "market" not in q.by:
            return Clarify("market", "which market",
                           self._names("market", self.lex.options["market"]),
                           list(self.lex.options["market"]))
        return None

    def _which_brand(self, q: Query) -> Clarify:
        """Which brand, among those that fit what is known (TA, company, market, wave); with
        a plain word when the question named a brand the benchmark does not have."""
        ids = self.lex.brands_for(ta=q.ta, company=q.company, markets=q.markets,
                                  waves=q.waves) or list(self.lex.options["brand"])
        note = None
        if q.unknown_names:
            names = " or ".join(q.unknown_names)
            note = (f"{names} {'is' if len(q.unknown_names) == 1 else 'are'} not a brand in "
                    "this benchmark.")
        return Clarify("brand", "which brand", self._names("brand", ids), ids, note)

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

    def _wave_kpi(self, q: Query) -> str | None:
        """The KPI that decides which waves count: the drivers for the analyses built on them."""
        return q.kpi if q.intent not in ("key_drivers", "correlation", "channel_mix") else (
            _DRIVER_KPI)

    def _series(self, q: Query, kpi: str | None) -> list[str] | None:
        """The waves of a series phrase ("since 2025-Q2", "over the last two waves", "over
        time": every wave carrying the KPI); None when the question has none."""
        ref = q.wave_ref or ""
        if ref.startswith("since:"):
            start = ref.split(":", 1)[1]
            return (self.lex.waves_from(start, kpi) if "-Q" in start
                    else self.lex.waves_since(int(start), kpi))
        if ref.startswith("last:"):
            return self.lex.last_waves(int(ref.split(":", 1)[1]), kpi)
        if ref.startswith("before:"):
            end, order = ref.split(":", 1)[1], self.lex.wave_ids()
            if "-Q" in end:
                return [w for w in self.lex.waves_for(kpi) if end in order
                        and order.index(w) < order.index(end)]
            return [w for w in self.lex.waves_for(kpi) if int(w[:4]) < int(end)]
        if ref == "all" or (q.intent == "trend" and len(q.waves) < 2):
            return self.lex.waves_for(kpi)
        return None

    def _resolve_waves(self, q: Query) -> Clarify | None:
        kpi = self._wave_kpi(q)
        ref = q.wave_ref or ""
        latest = self.lex.latest(kpi)
        if "wave" in q.by and q.intent == "kpi_value" and len(q.waves) != 1:
            if q.by == ["wave"] and len(q.brands) <= 1 and len(q.markets) <= 1:
                # A KPI "by wave" is its trend: every wave, with the significance of each change.
                q.by.remove("wave")
                q.intent = "trend"
            else:  # one value per group and wave (a trend is one series)
                q.waves = q.waves or self._series(q, kpi) or self.lex.waves_for(kpi)
                return None
        if ref == "first" and not q.waves:
            return self._first_wave(q, kpi)
        series = self._series(q, kpi)
        if series == []:  # "before 2024-Q2": no wave before the first one
            options = self.lex.waves_for(kpi)
            return Clarify("wave", "which wave", list(options), list(options),
                           "No wave of the benchmark is in the period asked.")
        if series is not None:
            self._over_series(q, series)
            return None
        if ref == "latest" and not q.waves:
            q.waves = [latest] if latest else []
        if ref == "previous" and not (q.compare and q.compare.dimension == "wave"):
            base = q.wave or latest
            prev = self.lex.previous(base, kpi) if base else None
            q.waves = [prev] if prev else q.waves
            q.defaults.append(f"previous wave {prev}")
            return
        if q.intent == "explain_change":
            self._why_waves(q, latest)
            return
        if q.compare and q.compare.dimension == "wave":
            return
        if q.intent in ("key_drivers",) and not q.waves and q.brand:
            full = self.lex.latest(_DRIVER_KPI)
            q.waves = [full] if full else []
            q.defaults.append(f"latest full wave {full} (what to fix now, for "
                              f"{self.lex.name('brand', q.brand)})")
            return
        if q.intent in ("key_drivers", "correlation", "perception_gap") and not q.waves:
            return  # pooled over waves unless one is named
        if not q.waves:
            q.waves = [latest] if latest else []
            q.defaults.append(f"latest wave {latest}")

    def _first_wave(self, q: Query, kpi: str | None) -> Clarify | None:
        """"the first time it was measured": the first wave carrying the KPI in which the
        brand is rated in the market (after its launch); asked back when that differs
        between the markets (or brands) named."""
        pairs = [(b, m) for b in q.brands or [None] for m in q.markets or [None]]
        firsts = {(b, m): self.lex.first_wave(kpi, [b] if b else [], [m] if m else [])
                  for b, m in pairs}
        if len(set(firsts.values())) > 1:
            slot = "market" if len(q.markets) > 1 else "brand"
            ids = q.markets if slot == "market" else q.brands
            when = "; ".join(f"{self.lex.name(slot, m if slot == 'market' else b)} {w}"
                             for (b, m), w in firsts.items())
            return Clarify(slot, f"which {slot}", self._names(slot, ids), list(ids),
                           f"The first wave with ratings differs: {when}.")
        first = next(iter(firsts.values()))
        if first is None:
            return None
        q.waves = [first]
        label = kpi_catalogue()[q.kpi].label if q.kpi in kpi_catalogue() else "the KPI"
        who = " in ".join(x for x in (" and ".join(self._names("brand", q.brands)),
                                      " and ".join(self._names("market", q.markets))) if x)
        q.defaults.append(f"the first wave with {label}" + (f" for {who}" if who else "")
                          + f": {first}")
        return None

    def _over_series(self, q: Query, series: list[str]) -> None:
        """A series phrase: the trend over those waves; a "why" from its first to its last
        wave; any other analysis, which takes one wave, at the last wave of the series."""
        is_all = (q.wave_ref or "") == "all" or (q.intent == "trend" and not q.wave_ref)
        if q.intent in ("kpi_value", "trend"):
            q.intent = "trend"
            q.waves = [] if is_all else series  # every wave: the engine's own series
        elif q.intent == "explain_change" and len(series) >= 2:
            q.waves = [series[0], series[-1]]
            q.defaults.append(f"change from {series[0]} to {series[-1]}")
        elif q.intent == "compare" and q.compare and q.compare.dimension == "wave" \
                and len(series) >= 2:
            q.compare = Compare("wave", series[0], series[-1])
            q.waves = [series[0], series[-1]]
        elif series:
            q.waves = series[-1:]
            q.defaults.append(f"one wave: the latest of the period asked, {series[-1]}")

    def _why_waves(self, q: Query, latest: str | None) -> None:
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

    def _wave_report_scope(self, q: Query) -> None:
        """A wave-report question without a wave reads the latest report."""
        if not q.waves:
            latest = self.lex.latest(None)
            q.waves = [latest] if latest else []
            q.defaults.append(f"the latest wave report, {latest}")
        if q.ta is None and q.brands:
            q.ta = self._brands_ta(q.brands)

    def _complete_compare(self, q: Query) -> Query:
        c = q.compare
        if c is None:
            c = Compare("brand", q.brand, "leader", "leader")
            q.defaults.append("compared with the leader (no other side named)")
        if c.dimension == "wave":
            c = self._wave_pair(q, c)
            q.waves = [w for w in (c.a, c.b) if w]
            if not (q.brands or q.company):
                q.clarify = self._which_brand(q)
        elif c.dimension == "brand" and c.a is None:
            c = Compare("brand", q.brand, c.b, c.target)
            if c.a is None:
                q.clarify = self._which_brand(q)
        elif c.dimension in ("prescriber", "specialty", "setting") and not q.brands:
            # two groups of HCPs are compared on one brand's ratings
            q.clarify = self._which_brand(q)
        if c.dimension == "market":
            q.markets = [c.a, c.b]
        q.compare = c
        return q

    def _wave_pair(self, q: Query, c: Compare) -> Compare:
        """The two waves of a wave comparison, earlier first. "previous" is the wave before
        the other one that carries the KPI; "reference" the other wave named, else the
        latest; "previous_pair" moves a pair one wave back."""
        kpi = q.kpi
        order = self.lex.wave_ids()
        known = [w for w in (c.a, c.b) if w in order]
        if len(known) == 2:
            frm, to = sorted(known, key=order.index)
            if q.wave_ref == "previous_pair":
                frm, to = self._pair_before(q, frm, to)
            return Compare("wave", frm, to)
        if len(q.waves) >= 2 and c.a == "previous":
            return Compare("wave", q.waves[0], q.waves[-1])
        if known:  # "compared to 2025-Q2": with the other wave named, else the latest
            others = [w for w in q.waves if w != known[0]]
            other = others[-1] if others else self.lex.latest(kpi)
            if not others:
                q.defaults.append(f"compared with the latest wave, {other}")
            pair = sorted({known[0], other or known[0]}, key=order.index)
            return Compare("wave", pair[0], pair[-1])
        to = q.wave or self.lex.latest(kpi)
        frm = self.lex.previous(to, kpi) if to else None
        if frm is not None:
            q.defaults.append(f"{to} against the wave before it carrying the KPI, {frm}")
        return Compare("wave", frm, to)

    def _pair_before(self, q: Query, frm: str, to: str) -> tuple[str, str]:
        """Both waves of a pair one wave back (among the waves carrying the KPI)."""
        a, b = self.lex.previous(frm, q.kpi), self.lex.previous(to, q.kpi)
        if a is None or b is None:
            q.defaults.append(f"no wave before {frm}: the same two waves")
            return frm, to
        q.defaults.append(f"the pair before: {a} and {b}")
        return a, b
