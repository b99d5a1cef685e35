"""Question -> `Query`, by rules read from lexicon.yaml (no LLM).

Order of work: explicit waves and wave phrases are taken out first (wave_phrases.py;
so "over time" never reads as the KPI "time"), then break-down phrases, then entity
phrases longest first, then fuzzy matching of what is left for typos
("cardivex", "Germnay"; every correction is said in `defaults`). The intent is
the first rule of the intent table whose cue occurs and whose slot conditions hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rapidfuzz import fuzz, process

from assistant.lexicon import Entity, Lexicon, normalise
from assistant.phrase_match import has_phrase, strip_phrases
from assistant.query import Compare, Query
from assistant.wave_phrases import WavePhrases

_MAX_PHRASE_WORDS = 6
_FUZZY_SLOTS = ("brand", "company", "market", "kpi")
_DID_YOU_MEAN_SLOTS = ("brand", "company", "market")
# Slots that name one thing each: a second one named makes a comparison of the two.
_SINGLE_SLOTS = ("company", "channel")
# Segment slots: a second value named ("oncologists and pulmonologists") is a breakdown by
# that segment, never one pooled value.
_SEGMENT_SLOTS = ("specialty", "setting", "prescriber")


@dataclass(frozen=True)
class _Found:
    """One entity named in the question: where, by how many words, and how it was read."""

    pos: int
    entity: Entity
    words: int
    typed: str | None = None  # the word as typed, when it was a fuzzy correction


class Parser:
    def __init__(self, lexicon: Lexicon):
        self.lex = lexicon
        self.rules = lexicon.rules
        self.wave_phrases = WavePhrases(lexicon)

    @cached_property
    def _rule_words(self) -> set[str]:
        """Every word the rule tables use: never read as a misspelt brand or market."""
        words = set(self.rules["fuzzy_stoplist"])
        for rule in self.rules["intents"]:
            for cue in rule["cues"]:
                words.update(normalise(cue).split())
        for phrases in self.rules["wave_phrases"].values():
            for p in phrases:
                words.update(normalise(p).split())
        for table in ("breakdowns", "channel_aliases", "other_markets"):
            for phrases in self.rules[table].values():
                for p in phrases:
                    words.update(normalise(p).split())
        for phrases in self.lex.phrases:
            words.update(phrases.split())
        return words

    @cached_property
    def _fuzzy_choices(self) -> dict[str, Entity]:
        out: dict[str, Entity] = {}
        vague = set(self.rules.get("vague_kpi_words", []))
        for phrase, ents in self.lex.phrases.items():
            if " " in phrase or len(phrase) < self.rules["fuzzy_min_length"] or phrase in vague:
                continue
            for e in ents:
                if e.slot in _FUZZY_SLOTS:
                    out.setdefault(phrase, e)
        return out

    @cached_property
    def _other_markets(self) -> dict[str, str]:
        """Word naming a country outside the benchmark -> the name said in the answer."""
        return {normalise(w): name for name, words in self.rules["other_markets"].items()
                for w in words}

    # --- public ----------------------------------------------------------
    def parse(self, question: str) -> Query:
        text = normalise(question)
        q = Query(text=question)
        rest = self.wave_phrases.take(text, q)
        rest = self._breakdowns(rest, q)
        rest = self._compare_targets(rest, q)
        rest = self._unknown_markets(rest, q)
        self._codes(question, q)
        extra = self._entities(rest, q, question)
        q.self_ref = any(has_phrase(text, w) for w in self.rules["self_words"])
        self._compare_slot(q, extra)
        rule = self._intent(text, q)
        q.intent = rule.get("intent", q.intent) if rule else self._fallback(text, q)
        self._apply(rule or {}, q)
        if q.ta is None and q.brands:
            tas = {self.lex.brand_ta.get(b) for b in q.brands}
            q.ta = tas.pop() if len(tas) == 1 else None  # the brand's own therapy area
        q.followup = self._is_followup(text, q)
        return q

    # --- other slots -----------------------------------------------------
    def _breakdowns(self, text: str, q: Query) -> str:
        for dim, phrases in self.rules["breakdowns"].items():
            text, found = strip_phrases(text, phrases)
            if found and dim not in q.by:
                q.by.append(dim)
        return text

    def _compare_targets(self, text: str, q: Query) -> str:
        for target, phrases in self.rules["compare_targets"].items():
            text, found = strip_phrases(text, phrases)
            if found and q.compare is None:
                q.compare = Compare("brand", None, target, target)
        return text

    def _unknown_markets(self, text: str, q: Query) -> str:
        text, found = strip_phrases(text, self._other_markets)
        for word in found:
            name = self._other_markets[normalise(word)]
            if name not in q.unknown_markets:
                q.unknown_markets.append(name)
        return text

    def _codes(self, original: str, q: Query) -> None:
        """Market codes typed in capitals ("DE", "IT"); lower-case "it"/"es" are words."""
        for code in self.lex.market_codes():
            if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", original) and code not in q.markets:
                q.markets.append(code)

    # --- entities --------------------------------------------------------
    def _entities(self, text: str, q: Query, original: str) -> dict[str, list[Any]]:
        """Exact phrases longest first, then typos; assigned in the order they were typed.
        Returns every value named per single-valued slot (company, channel)."""
        found = self._find(text, q, original)
        kpis = [f for f in found if f.entity.slot == "kpi"]
        if kpis:
            q.kpi = self._pick_kpi(kpis).entity.id
        extra: dict[str, list[Any]] = {s: [] for s in _SINGLE_SLOTS}
        for f in found:
            if f.typed is not None:
                q.defaults.append(f"read '{f.typed}' as {f.entity.name}")
            self._assign(q, f.entity, extra)
        return extra

    def _find(self, text: str, q: Query, original: str) -> list[_Found]:
        tokens = text.split()
        vague = set(self.rules.get("vague_kpi_words", []))
        found: list[_Found] = []
        i = 0
        while i < len(tokens):
            for n in range(min(_MAX_PHRASE_WORDS, len(tokens) - i), 0, -1):
                phrase = " ".join(tokens[i:i + n])
                ents = self.lex.phrases.get(phrase)
                if ents:
                    if not (n == 1 and phrase in vague):
                        found.append(_Found(i, ents[0], n))  # one thing: catalogue order
                    i += n
                    break
            else:
                hit = self._fuzzy(tokens[i], q, original)
                if hit is not None:
                    found.append(_Found(i, hit, 1, _as_typed(tokens[i], original)))
                i += 1
        return found

    @staticmethod
    def _pick_kpi(kpis: list[_Found]) -> _Found:
        """The most specific KPI phrase (most words), the first typed among equals. The
        perception gap is an analysis, not a measure: "perception gap on CX index" is about
        the CX index."""
        measures = [f for f in kpis if f.entity.id != "perception_gap"] or kpis
        return max(measures, key=lambda f: (f.words, -f.pos))

    def _fuzzy(self, tok: str, q: Query, original: str) -> Entity | None:
        if len(tok) < self.rules["fuzzy_min_length"] or tok in self._rule_words:
            return None
        choices = self._fuzzy_choices
        hits = process.extract(tok, list(choices), scorer=fuzz.ratio, limit=3)
        if not hits:
            return None
        best, score, _ = hits[0]
        ent = choices[best]
        rivals = [choices[p] for p, s, _ in hits[1:] if choices[p] != ent
                  and choices[p].slot in _DID_YOU_MEAN_SLOTS
                  and s >= score - self.rules["fuzzy_margin"]]
        min_score = self.rules["fuzzy_kpi_min_score" if ent.slot == "kpi" else "fuzzy_min_score"]
        if score >= min_score and not (rivals and ent.slot in _DID_YOU_MEAN_SLOTS):
            return ent
        if ent.slot in _DID_YOU_MEAN_SLOTS and score >= self.rules["did_you_mean_min_score"]:
            for e in [ent, *rivals]:
                if e.name not in q.did_you_mean:
                    q.did_you_mean.append(e.name)
        elif self._name_like(tok, original):
            q.unknown_names.append(_as_typed(tok, original) or tok)
        return None

    def _name_like(self, tok: str, original: str) -> bool:
        """A word typed with a capital that is no word of the rules: a name the benchmark
        does not know ("Zentravax")."""
        typed = _as_typed(tok, original) or ""
        return (typed[:1].isupper() and tok.isalpha()
                and tok not in set(self.rules["common_words"]))

    def _assign(self, q: Query, e: Entity, extra: dict[str, list[Any]]) -> None:
        if e.slot == "brand" and e.id not in q.brands:
            q.brands.append(e.id)
        elif e.slot == "market" and e.id not in q.markets:
            q.markets.append(e.id)
        elif e.slot in _SINGLE_SLOTS:
            if e.id not in extra[e.slot]:
                extra[e.slot].append(e.id)
            setattr(q, e.slot, extra[e.slot][0])
        elif e.slot in _SEGMENT_SLOTS and getattr(q, e.slot) not in (None, e.id):
            setattr(q, e.slot, None)  # two values of one segment: one value for each
            if e.slot not in q.by:
                q.by.append(e.slot)
        elif e.slot in ("ta", *_SEGMENT_SLOTS):
            if getattr(q, e.slot) is None and e.slot not in q.by:
                setattr(q, e.slot, e.id)

    def _compare_slot(self, q: Query, extra: dict[str, list[Any]]) -> None:
        """Two values named for one slot: the two sides of a comparison."""
        if q.compare is not None:
            return
        named = [("brand", q.brands), ("market", q.markets), ("wave", q.waves),
                 *((s, extra[s]) for s in _SINGLE_SLOTS)]
        for dim, vals in named:
            if len(vals) >= 2:
                q.compare = Compare(dim, vals[0], vals[1])
                if dim == "channel":
                    q.channel = None  # each side is one channel
                return

    # --- intent ----------------------------------------------------------
    def _filled(self, q: Query, slot: str) -> bool:
        v: Any = getattr(q, slot, None)
        if slot == "prescriber":
            return v is not None  # non-prescribers (False) is a value too
        return bool(v)

    @staticmethod
    def _cued(rule: dict[str, Any], text: str) -> bool:
        return (any(has_phrase(text, c) for c in rule["cues"])
                or any(re.search(p, text) for p in rule.get("patterns") or []))

    def _holds(self, rule: dict[str, Any], q: Query) -> bool:
        needs = rule.get("needs_any") or []
        if needs and not any(self._filled(q, s) for s in needs):
            return False
        return not any(self._filled(q, s) for s in rule.get("forbids") or [])

    def _intent(self, text: str, q: Query) -> dict[str, Any] | None:
        """The first intent rule whose cue occurs and whose conditions hold."""
        for rule in self.rules["intents"]:
            if self._cued(rule, text) and self._holds(rule, q):
                q.cued = not rule.get("weak", False)
                q.refusal = rule.get("refusal")
                return rule
        return None

    def _fallback(self, text: str, q: Query) -> str:
        if q.wave_ref in ("all",) or (q.wave_ref or "").startswith(("since:", "last:")):
            return "trend"
        for rule in self.rules["fallbacks"]:
            if self._holds(rule, q):
                return str(rule["intent"])
        if q.unknown_markets:
            return "kpi_value"
        if (q.by or q.compare or q.wave_ref or q.waves or q.markets or q.segment()
                or q.clarify):
            return "kpi_value"  # a bare follow-up ("and in France?"): the conversation decides
        if text in {normalise(w) for w in self.rules["yes_words"]}:
            return "help"  # "yes" to nothing asked: the conversation may know what it answers
        return "out_of_scope" if text else "help"

    def _apply(self, rule: dict[str, Any], q: Query) -> None:
        """What the winning rule implies beyond its intent."""
        if rule.get("documents"):
            q.documents = rule["documents"]
        if rule.get("bases") and not (q.brands or q.company) and "brand" not in q.by:
            q.by.append("brand")
            q.defaults.append("bases: each brand's value with its base (the HCPs who rated "
                              "the brand)")
        elif rule.get("bases"):
            q.defaults.append("base: the HCPs who rated the brand, shown with its value")
        if rule.get("wave_change") and q.compare is None:
            q.compare = Compare("wave", "previous", "reference")
        if q.intent == "trend" and q.wave_ref == "previous" and q.compare is None:
            # "did we improve since the last wave": two waves, not a series
            q.intent, q.compare = "compare", Compare("wave", "previous", "reference")
        if q.intent == "compare" and q.compare is None and q.wave_ref == "previous":
            q.compare = Compare("wave", "previous", "reference")  # "vs last wave"
        if q.intent == "ranking" and q.compare is not None and q.compare.dimension == "brand" \
                and q.compare.a is None:
            q.compare = None  # "top brand in immunology": the ranking names the leader

    def _is_followup(self, text: str, q: Query) -> bool:
        if self._full(q):
            return False  # names its subject, KPI and market: it stands on its own
        if any(text.startswith(normalise(c) + " ") or text == normalise(c)
               for c in self.rules["followup_cues"]):
            return True
        if any(has_phrase(text, w) for w in self.rules["context_words"]):
            return True
        # Short turns naming no KPI and no subject lean on the previous question.
        return len(text.split()) <= 5 and not (q.kpi or q.brands or q.company or q.ta)

    def _full(self, q: Query) -> bool:
        return all(any(self._filled(q, s) for s in group)
                   for group in self.rules["full_question"])


def _as_typed(tok: str, original: str) -> str | None:
    """The word as it was typed in the question (its case), for saying what was read."""
    m = re.search(rf"(?<![A-Za-z0-9]){re.escape(tok)}(?![A-Za-z0-9])", original, re.IGNORECASE)
    return m.group(0) if m else None
