"""Question -> `Query`, by rules read from lexicon.yaml (no LLM).

Order of work: explicit waves and wave phrases are taken out first (so "over
time" never reads as the KPI "time"), then break-down phrases, then entity
phrases longest first, then fuzzy matching of what is left for typos
("cardivex", "Germnay"). The intent is the first rule of the intent table whose
cue occurs and whose slot conditions hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache, cached_property
from typing import Any

from rapidfuzz import fuzz, process

from assistant.lexicon import Entity, Lexicon, normalise
from assistant.query import Compare, Query

_MAX_PHRASE_WORDS = 6
_FUZZY_SLOTS = ("brand", "company", "market")


@cache  # the rule tables hold more phrases than `re` caches patterns
def _phrase(phrase: str) -> re.Pattern[str]:
    """A phrase as a whole-word pattern on normalised text."""
    return re.compile(rf"(?<![a-z0-9]){re.escape(normalise(phrase))}(?![a-z0-9])")


def _has(text: str, phrase: str) -> bool:
    return _phrase(phrase).search(text) is not None


def _strip(text: str, phrases: Iterable[str]) -> tuple[str, list[str]]:
    """Remove every phrase found (longest first); return the rest and what was found."""
    found = []
    for p in sorted(set(phrases), key=len, reverse=True):
        pattern = _phrase(p)
        if pattern.search(text):
            found.append(p)
            text = pattern.sub(" ", text)
    return text, found


class Parser:
    def __init__(self, lexicon: Lexicon):
        self.lex = lexicon
        self.rules = lexicon.rules

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
        for table in ("breakdowns", "channel_aliases"):
            for phrases in self.rules[table].values():
                for p in phrases:
                    words.update(normalise(p).split())
        for phrases in self.lex.phrases:
            words.update(phrases.split())
        return words

    @cached_property
    def _fuzzy_choices(self) -> dict[str, Entity]:
        out: dict[str, Entity] = {}
        for phrase, ents in self.lex.phrases.items():
            if " " in phrase or len(phrase) < self.rules["fuzzy_min_length"]:
                continue
            for e in ents:
                if e.slot in _FUZZY_SLOTS:
                    out.setdefault(phrase, e)
        return out

    # --- public ----------------------------------------------------------
    def parse(self, question: str) -> Query:
        text = normalise(question)
        q = Query(text=question)
        rest = self._waves(text, q)
        rest = self._breakdowns(rest, q)
        rest = self._compare_targets(rest, q)
        rest, others = _strip(rest, self.rules["other_markets"])
        q.unknown_markets = others
        self._codes(question, q)
        self._entities(rest, q)
        q.self_ref = any(_has(text, w) for w in self.rules["self_words"])
        self._compare_slot(q)
        q.intent = self._intent(text, q)
        if q.intent == "trend" and q.wave_ref == "previous":
            # "did we improve since the last wave": two waves, not a series
            q.intent, q.compare = "compare", Compare("wave", "previous", "reference")
        q.followup = self._is_followup(text, q)
        return q

    # --- steps -----------------------------------------------------------
    def _waves(self, text: str, q: Query) -> str:
        known = set(self.lex.wave_ids())
        for pat in self.rules["wave_patterns"]:
            for m in list(re.finditer(pat, text)):
                wid = f"{m.group('year')}-Q{m.group('q')}"
                (q.waves if wid in known else q.unknown_waves).append(wid)
            text = re.sub(pat, " ", text)
        q.waves = sorted(set(q.waves), key=self.lex.wave_ids().index)
        m = re.search(self.rules["since_pattern"], text)
        if m:
            q.wave_ref = f"since:{m.group('year')}"
            text = text[:m.start()] + " " + text[m.end():]
        refs = []
        for ref in ("previous", "latest", "all"):
            text, found = _strip(text, self.rules["wave_phrases"][ref])
            if found:
                refs.append(ref)
        if "previous" in refs and "latest" in refs:
            q.compare = Compare("wave", "previous", "reference")
        if refs and q.wave_ref is None:
            q.wave_ref = refs[0]
        for m in re.finditer(self.rules["year_pattern"], text):
            in_year = self.lex.waves_in_year(int(m.group("year")))
            if in_year and not q.waves:
                q.waves = in_year[-1:]
                q.defaults.append(f"{m.group('year')} read as its last wave {in_year[-1]}")
            elif not in_year:
                q.unknown_waves.append(m.group("year"))
        return re.sub(self.rules["year_pattern"], " ", text)

    def _breakdowns(self, text: str, q: Query) -> str:
        for dim, phrases in self.rules["breakdowns"].items():
            text, found = _strip(text, phrases)
            if found and dim not in q.by:
                q.by.append(dim)
        return text

    def _compare_targets(self, text: str, q: Query) -> str:
        for target, phrases in self.rules["compare_targets"].items():
            text, found = _strip(text, phrases)
            if found and q.compare is None:
                q.compare = Compare("brand", None, target)
        return text

    def _codes(self, original: str, q: Query) -> None:
        """Market codes typed in capitals ("DE", "IT"); lower-case "it"/"es" are words."""
        for code in self.lex.market_codes():
            if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", original) and code not in q.markets:
                q.markets.append(code)

    def _entities(self, text: str, q: Query) -> None:
        """Exact phrases longest first, then typos; assigned in the order they were typed."""
        tokens = text.split()
        found: list[tuple[int, Entity]] = []
        i = 0
        while i < len(tokens):
            for n in range(min(_MAX_PHRASE_WORDS, len(tokens) - i), 0, -1):
                ents = self.lex.phrases.get(" ".join(tokens[i:i + n]))
                if ents:
                    found.append((i, ents[0]))  # a phrase names one thing: catalogue order
                    i += n
                    break
            else:
                ent = self._fuzzy(tokens[i], q)
                if ent is not None:
                    found.append((i, ent))
                i += 1
        for _, ent in sorted(found, key=lambda f: f[0]):
            self._assign(q, ent)

    def _fuzzy(self, tok: str, q: Query) -> Entity | None:
        if len(tok) < self.rules["fuzzy_min_length"] or tok in self._rule_words:
            return None
        choices = self._fuzzy_choices
        hit = process.extractOne(tok, list(choices), scorer=fuzz.ratio)
        if hit is None:
            return None
        phrase, score, _ = hit
        if score >= self.rules["fuzzy_min_score"]:
            return choices[phrase]
        if score >= self.rules["did_you_mean_min_score"]:
            q.did_you_mean.append(choices[phrase].name)
        return None

    def _assign(self, q: Query, e: Entity) -> None:
        if e.slot == "brand" and e.id not in q.brands:
            q.brands.append(e.id)
        elif e.slot == "market" and e.id not in q.markets:
            q.markets.append(e.id)
        elif e.slot == "kpi":
            # The first KPI named is the one asked about; "perception gap on CX index" is
            # about the CX index (the gap is the analysis, not the measure).
            if q.kpi is None or q.kpi == "perception_gap":
                q.kpi = e.id
        elif e.slot == "channel":
            q.channel = q.channel or e.id
        elif e.slot in ("company", "ta", "specialty", "setting", "prescriber"):
            if getattr(q, e.slot) is None:
                setattr(q, e.slot, e.id)

    def _compare_slot(self, q: Query) -> None:
        if q.compare is not None:
            return
        for dim, vals in (("brand", q.brands), ("market", q.markets), ("wave", q.waves)):
            if len(vals) >= 2:
                q.compare = Compare(dim, vals[0], vals[1])
                return

    # --- intent ----------------------------------------------------------
    def _filled(self, q: Query, slot: str) -> bool:
        v: Any = getattr(q, slot, None)
        return bool(v) or v is False

    @staticmethod
    def _cued(rule: dict[str, Any], text: str) -> bool:
        return (any(_has(text, c) for c in rule["cues"])
                or any(re.search(p, text) for p in rule.get("patterns") or []))

    def _holds(self, rule: dict[str, Any], q: Query) -> bool:
        needs = rule.get("needs_any") or []
        if needs and not any(self._filled(q, s) for s in needs):
            return False
        return not any(self._filled(q, s) for s in rule.get("forbids") or [])

    def _intent(self, text: str, q: Query) -> str:
        for rule in self.rules["intents"]:
            if self._cued(rule, text) and self._holds(rule, q):
                q.cued = not rule.get("weak", False)
                q.refusal = rule.get("refusal")
                return rule["intent"]
        if q.wave_ref in ("all",) or (q.wave_ref or "").startswith("since:"):
            return "trend"
        for rule in self.rules["fallbacks"]:
            if self._holds(rule, q):
                return rule["intent"]
        if q.unknown_markets:
            return "kpi_value"
        if q.by or q.compare or q.wave_ref or q.waves or q.markets or q.segment():
            return "kpi_value"  # a bare follow-up ("and in France?"): the conversation decides
        return "out_of_scope" if text else "help"

    def _is_followup(self, text: str, q: Query) -> bool:
        if any(text.startswith(normalise(c) + " ") or text == normalise(c)
               for c in self.rules["followup_cues"]):
            return True
        if any(_has(text, w) for w in self.rules["context_words"]):
            return True
        # Short turns naming no KPI and no brand lean on the previous question.
        return len(text.split()) <= 5 and not q.kpi and not q.brands and not q.company
