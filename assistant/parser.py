"""Question -> `Query`, by rules read from lexicon.yaml (no LLM).

Order of work: events the data does not date are taken out ("the field force cut": never a
channel); the whole question is read once for negations ("excluding GPs", "outside Germany
and the UK", "not reached by reps") and for clauses describing HCPs in ways no rule reads
("HCPs who rate its product highly"); then explicit waves and wave phrases are taken out
(wave_phrases.py; so "over time" never reads as the KPI "time"), then break-down phrases,
then entity phrases longest first, then fuzzy matching of what is left for typos
("cardivex", "Germnay"; every correction is said in `defaults`). A negated entity is
replaced by its complement (`complements` in lexicon.yaml, said in `defaults`) or the
question is refused; it is never kept as if it had been asked for. The intent is the first
rule of the intent table whose cue occurs and whose slot conditions hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rapidfuzz import fuzz, process

from assistant.lexicon import Entity, Lexicon, normalise
from assistant.phrase_match import has_phrase, strip_phrases
from assistant.query import Clarify, Compare, Query
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
    phrase: str = ""  # the normalised words it was read from


@dataclass(frozen=True)
class _Span:
    """A piece of the whole question: an entity phrase, a negation phrase or one word."""

    kind: str  # entity | negation | word
    text: str
    entity: Entity | None = None


@dataclass
class _Negated:
    """What the negations of a question exclude: entity phrases (normalised), words that
    may be a typo of an entity, and what no rule reads."""

    phrases: dict[str, str]  # negated phrase -> the negation word before it
    words: dict[str, str]  # a word after a negation, possibly a misspelt entity -> the word
    waves: bool = False  # a wave was negated ("except 2025-Q3")
    unread: list[str] | None = None
    used: set[str] | None = None  # the negation phrases that negated something


# Slots negated together when joined by "and"/"or" ("outside Germany and the UK").
_NEGATION_GROUPS = ({"prescriber", "specialty", "setting"}, {"market"},
                    {"channel", "channel_group"}, {"brand"}, {"kpi"}, {"company"}, {"ta"})
# Entity slot -> the query field it fills, for the list slots.
_SLOT_FIELDS = {"brand": "brands", "market": "markets", "wave": "waves"}
# Entities a qualifier clause may hold ("HCPs who are not prescribers in Germany").
_CLAUSE_SLOTS = ("prescriber", "specialty", "setting", "channel", "channel_group", "market")
# Entities that end a qualifier clause ("HCPs who rated Cardiovex").
_CLAUSE_ENDS = ("brand", "company", "ta")
_WAVE_TOKEN = re.compile(r"^(?:20\d\d-q[1-4]|q[1-4]|20\d\d)$")
NUMERIC_INTENTS = ("kpi_value", "ranking", "trend", "compare", "explain_change", "channel_mix",
                   "key_drivers", "perception_gap", "correlation")


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
        neg, qual = self.rules["negation"], self.rules["qualifiers"]
        lists = [neg["words"], neg["gap_words"], neg["filter_words"], qual["clause_words"],
                 qual["stops"], *(self.rules.get("events") or {}).values(),
                 *(self.rules.get("order_words") or {}).values()]
        for phrases in lists:
            for p in phrases:
                words.update(normalise(p).split())
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
        text = self._events(text, q)
        spans = self._spans(text.split())
        negated = self._negations(spans)
        unread = self._qualifiers(spans) + (negated.unread or [])
        rest = self.wave_phrases.take(text, q)
        rest = self._breakdowns(rest, q)
        rest = self._compare_targets(rest, q)
        rest = self._unknown_markets(rest, q)
        self_text = self._other_codes(question, q, text)
        self._codes(question, q)
        extra = self._entities(rest, q, question, negated)
        q.self_ref = any(has_phrase(self_text, w) for w in self.rules["self_words"])
        self._compare_slot(q, extra)
        self._complements(q, extra)
        # "other than GPs" is no comparison: the negations read are not intent cues
        cue_text, _ = strip_phrases(text, negated.used or ())
        rule = self._intent(cue_text, q)
        q.intent = rule.get("intent", q.intent) if rule else self._fallback(text, q)
        self._apply(rule or {}, q)
        if q.ta is None and q.brands:
            tas = {self.lex.brand_ta.get(b) for b in q.brands}
            q.ta = tas.pop() if len(tas) == 1 else None  # the brand's own therapy area
        self._order(text, q)
        self._channel_filter(q, extra)
        self._refuse_unread(q, extra, negated, unread)
        q.followup = self._is_followup(text, q)
        return q

    # --- events, negations, qualifiers ---------------------------------------
    def _events(self, text: str, q: Query) -> str:
        """Events the data does not date ("the field force cut"): taken out, so their words
        are never read as a channel or a KPI."""
        for name, phrases in (self.rules.get("events") or {}).items():
            text, found = strip_phrases(text, phrases)
            if found and q.event is None:
                q.event = name
        return re.sub(r"\s+", " ", text).strip()

    @cached_property
    def _negation_phrases(self) -> dict[str, int]:
        return {normalise(w): len(normalise(w).split()) for w in self.rules["negation"]["words"]}

    def _spans(self, tokens: list[str]) -> list[_Span]:
        """The whole question as entity phrases (longest first), negation phrases and words.
        An entity phrase that starts with a negation word ("non prescribers", "not used")
        is the entity."""
        spans: list[_Span] = []
        negs = self._negation_phrases
        i = 0
        while i < len(tokens):
            for n in range(min(_MAX_PHRASE_WORDS, len(tokens) - i), 0, -1):
                phrase = " ".join(tokens[i:i + n])
                ents = self.lex.phrases.get(phrase)
                if ents:
                    spans.append(_Span("entity", phrase, ents[0]))
                    break
                if phrase in negs:
                    spans.append(_Span("negation", phrase))
                    break
            else:
                n = 1
                spans.append(_Span("word", tokens[i]))
            i += n
        return spans

    def _negations(self, spans: list[_Span]) -> _Negated:
        """The entities each negation word applies to: after at most `max_gap` gap words,
        with the entities joined to them by "and"/"or" of the same group."""
        rules = self.rules["negation"]
        gap = set(rules["gap_words"])
        strong = {normalise(w) for w in rules["strong"]}
        filters = set(rules["filter_words"])
        coord = {normalise(w) for w in rules["coordination"]}
        channel_only = {normalise(w) for w in rules["channel_only"]}
        out = _Negated({}, {}, unread=[], used=set())
        for k, s in enumerate(spans):
            if s.kind != "negation":
                continue
            j, gaps = k + 1, 0
            while j < len(spans) and gaps <= rules["max_gap"] and spans[j].text in gap:
                j, gaps = j + 1, gaps + 1
            t = spans[j] if j < len(spans) else None
            if s.text in channel_only and not (t is not None and (
                    t.entity is not None and t.entity.slot in ("channel", "channel_group")
                    or t.text in filters)):
                continue
            if t is not None and t.entity is not None:
                group = next(g for g in _NEGATION_GROUPS if t.entity.slot in g) if any(
                    t.entity.slot in g for g in _NEGATION_GROUPS) else {t.entity.slot}
                out.phrases[t.text] = s.text
                out.used.add(s.text)
                j += 1
                while j + 1 < len(spans) and spans[j].text in coord:
                    m = j + 1
                    while m < len(spans) and spans[m].text in ("the", "a", "in"):
                        m += 1
                    nxt = spans[m] if m < len(spans) else None
                    if nxt is None or nxt.kind != "entity" or nxt.entity is None \
                            or nxt.entity.slot not in group:
                        break
                    out.phrases[nxt.text] = s.text
                    j = m + 1
            elif t is not None and (_WAVE_TOKEN.match(t.text) or self._wave_phrase_at(spans, j)):
                out.waves = True
            elif t is not None and t.kind == "word" and (s.text in strong or t.text in filters):
                if self._could_be_name(t.text):
                    out.words[t.text] = s.text  # a typo of an entity, read by the fuzzy step
                else:
                    out.unread.append(" ".join([s.text, *(x.text for x in spans[k + 1:j + 3])]))
        return out

    def _wave_phrase_at(self, spans: list[_Span], j: int) -> bool:
        """Whether a wave phrase ("the light wave", "last wave") starts at span j."""
        rest = " " + " ".join(t.text for t in spans[j:]) + " "
        phrases = [*self.rules["light_wave_phrases"],
                   *(p for ps in self.rules["wave_phrases"].values() for p in ps)]
        return any(rest.startswith(f" {normalise(p)} ") for p in phrases)

    def _could_be_name(self, tok: str) -> bool:
        return (tok.isalpha() and len(tok) >= self.rules["fuzzy_min_length"]
                and tok not in self._rule_words)

    def _qualifiers(self, spans: list[_Span]) -> list[str]:
        """Clauses describing HCPs by something the rules do not read ("HCPs who rate its
        product highly", "among satisfied HCPs"): returned, to be refused."""
        rules = self.rules["qualifiers"]
        nouns, rel = set(rules["hcp_nouns"]), set(rules["relative_words"])
        among, stops = set(rules["among_words"]), {normalise(w) for w in rules["stops"]}
        ok_words = set(rules["clause_words"])
        unread: list[str] = []
        covered = -1  # the last span of a clause already read
        for k, s in enumerate(spans):
            if k <= covered:
                continue
            starts = (s.text in among or (s.text in nouns and k + 1 < len(spans)
                                          and spans[k + 1].text in rel))
            if not starts:
                continue
            clause: list[_Span] = []
            for t in spans[k + 1:]:
                if t.text in stops or _WAVE_TOKEN.match(t.text) or (
                        t.entity is not None and t.entity.slot in _CLAUSE_ENDS):
                    break
                clause.append(t)
            if s.text in among and not any(t.text in nouns for t in clause):
                continue  # "among its competitors": not about HCPs
            if not all(t.kind == "negation" or t.text in ok_words or (
                    t.entity is not None and t.entity.slot in _CLAUSE_SLOTS) for t in clause):
                unread.append(" ".join([s.text, *(t.text for t in clause)]))
            covered = k + len(clause)
        return unread

    def _complements(self, q: Query, extra: dict[str, Any]) -> None:
        """A negated entity becomes its complement by the rule of its slot (`complements` in
        lexicon.yaml), said in `defaults`; a slot without a rule is refused later."""
        for slot, ids in extra["negated"].items():
            rule = self.rules["complements"].get(slot)
            if rule is None:
                continue
            q.excluded[slot] = list(ids)
            word = extra["negation_word"].get(slot, "not")
            said = {"word": "not" if word == "non" else word,
                    "typed": extra["negation_phrase"].get(slot, "")}
            getattr(self, f"_complement_{rule}")(q, slot, ids, said, extra)

    def _say_complement(self, q: Query, slot: str, ids: list[Any], others: list[Any],
                        said: dict[str, str]) -> None:
        """"excluding GPs: cardiologists"; a setting as typed ("outside hospitals")."""
        labels = self.rules["segment_labels"]
        out = said["typed"] if slot == "setting" else _label(labels, slot, ids)
        q.defaults.append(f"{said['word']} {out}: {_label(labels, slot, others)}")

    def _complement_flip(self, q: Query, slot: str, ids: list[Any], said: dict[str, str],
                         extra: dict[str, Any]) -> None:
        """not prescribers -> non-prescribers (a yes/no segment)."""
        setattr(q, slot, not ids[0])
        self._say_complement(q, slot, ids, [not ids[0]], said)

    def _complement_other_values(self, q: Query, slot: str, ids: list[Any],
                                 said: dict[str, str], extra: dict[str, Any]) -> None:
        """The other values of the slot: the other setting; for markets, the other markets
        named ("Germany, not France"), else every other market (one value each; said by the
        completion, which knows whether a reply has narrowed them since)."""
        others = [x for x in self.lex.options.get(slot, []) if x not in ids]
        attr = _SLOT_FIELDS.get(slot, slot)
        if attr.endswith("s"):  # a list slot
            kept = [x for x in getattr(q, attr) if x not in ids]
            setattr(q, attr, kept or others)
        elif len(others) == 1 and getattr(q, attr) is None:
            setattr(q, attr, others[0])
            self._say_complement(q, slot, ids, others, said)

    def _complement_other_in_ta(self, q: Query, slot: str, ids: list[Any],
                                said: dict[str, str], extra: dict[str, Any]) -> None:
        """The other specialties of the therapy area (the brand's, else the specialty's)."""
        ta = q.ta or next((self.lex.brand_ta.get(b) for b in q.brands), None) or next(
            (t for t, specs in self.lex.specialties.items() if ids[0] in specs), None)
        others = [x for x in self.lex.specialties.get(ta or "", []) if x not in ids]
        if q.specialty is not None or not others:
            return
        if len(others) == 1:
            q.specialty = others[0]
            self._say_complement(q, slot, ids, others, said)
        else:  # none of the TA's HCPs is of the specialty excluded: all of them
            q.defaults.append(f"{said['word']} {_label(self.rules['segment_labels'], slot, ids)}"
                              f": every HCP of {self.lex.name('ta', ta)}")

    def _complement_drop(self, q: Query, slot: str, ids: list[Any], said: dict[str, str],
                         extra: dict[str, Any]) -> None:
        """Left out of the others named ("NPS, not CSAT"); refused when nothing else is named,
        or when the engine picks the set ("vs competitors other than Hemavel", "all brands
        except Cardiovex": it cannot leave one out)."""
        attr = "kpis" if slot == "kpi" else _SLOT_FIELDS.get(slot, slot)
        kept = [x for x in getattr(q, attr) if x not in ids]
        setattr(q, attr, kept)
        if slot == "kpi" and q.kpi in ids:
            q.kpi = kept[0] if kept else None
        picked = slot == "brand" and (q.compare is not None or "brand" in q.by)
        if not kept or picked:
            extra["refuse"].append(self.rules["negation_refusals"]["default"])

    def _refuse_unread(self, q: Query, extra: dict[str, list[Any]], negated: _Negated,
                       unread: list[str]) -> None:
        """A numeric question with a negation or qualifier no rule can honour is refused:
        never answered for the whole base or for the opposite."""
        if q.intent not in NUMERIC_INTENTS:
            return
        refusals = self.rules["negation_refusals"]
        reasons = list(extra["refuse"])
        for slot in extra["negated"]:
            if slot not in self.rules["complements"]:
                reasons.append(refusals.get(slot, refusals["default"]))
        if negated.waves:
            reasons.append(refusals["default"])
        leftover = [w for w in negated.words if w not in extra["fuzzy_negated"]]
        q.unread = list(dict.fromkeys(unread + [f"{negated.words[w]} {w}" for w in leftover]))
        if q.unread:
            reasons.append("unknown_filter")
        if reasons:
            # a channel not reached is said first: it names what can be asked instead
            q.refusal = "not_reached" if "not_reached" in reasons else reasons[0]

    def _order(self, text: str, q: Query) -> None:
        """"lowest", "worst", "bottom": the order asked for (completion settles it by the
        KPI's direction)."""
        text, _ = strip_phrases(text, self.rules.get("order_not") or [])
        for kind, words in (self.rules.get("order_words") or {}).items():
            if any(has_phrase(text, w) for w in words):
                q.order = "ascending" if kind == "lowest" else "worst"
                return

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

    def _other_codes(self, original: str, q: Query, text: str) -> str:
        """Codes of countries outside the benchmark typed in capitals ("in the US"); returns
        the normalised text without them and without the other countries' names (what the
        "we/us/our" words are looked for in)."""
        for name, codes in (self.rules.get("other_market_codes") or {}).items():
            for code in codes:
                if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", original):
                    if name not in q.unknown_markets:
                        q.unknown_markets.append(name)
                    text = re.sub(rf"(?<![a-z]){code.lower()}(?![a-z])", " ", text)
        text, _ = strip_phrases(text, self._other_markets)
        return text

    def _codes(self, original: str, q: Query) -> None:
        """Market codes typed in capitals ("DE", "IT"); lower-case "it"/"es" are words."""
        for code in self.lex.market_codes():
            if re.search(rf"(?<![A-Za-z]){code}(?![A-Za-z])", original) and code not in q.markets:
                q.markets.append(code)

    # --- entities --------------------------------------------------------
    def _entities(self, text: str, q: Query, original: str, negated: _Negated
                  ) -> dict[str, Any]:
        """Exact phrases longest first, then typos; assigned in the order they were typed.
        Returns every value named per single-valued slot (company, channel) and per segment,
        and what was negated (slot -> ids), kept out of the slots."""
        found = self._find(text, q, original)
        extra: dict[str, Any] = {s: [] for s in (*_SINGLE_SLOTS, *_SEGMENT_SLOTS,
                                                 "channel_group")}
        extra.update(negated={}, negation_word={}, negation_phrase={}, refuse=[],
                     fuzzy_negated=[])
        kept = []
        for f in found:
            word = negated.phrases.get(f.phrase) or (
                negated.words.get(f.phrase) if f.typed is not None else None)
            if word is None:
                kept.append(f)
                continue
            if f.typed is not None:
                extra["fuzzy_negated"].append(f.phrase)
            ids = extra["negated"].setdefault(f.entity.slot, [])
            if f.entity.id not in ids:
                ids.append(f.entity.id)
            extra["negation_word"].setdefault(f.entity.slot, word)
            extra["negation_phrase"].setdefault(f.entity.slot, f.typed or f.phrase)
        channels = [f for f in kept if f.entity.slot == "channel"]
        tokens = text.split()
        self._kpis(q, [f for f in kept if f.entity.slot == "kpi"
                       and not self._selects_a_channel(f, channels, tokens)])
        extra["unworded_channel"] = channels[0] if len(channels) == 1 and not self._worded(
            text.split(), channels[0]) else None
        for f in kept:
            if f.typed is not None:
                q.defaults.append(f"read '{f.typed}' as {f.entity.name}")
            self._assign(q, f.entity, extra)
        if "kpi" in extra["negated"] and not q.kpis:
            extra["refuse"].append(self.rules["negation_refusals"]["default"])
        return extra

    def _worded(self, tokens: list[str], f: _Found) -> bool:
        """Whether the words around a channel say it selects the HCPs it reached."""
        n = self.rules["channel_filter_window"]
        near = tokens[max(0, f.pos - n):f.pos] + tokens[f.pos + f.words:f.pos + f.words + 2]
        return bool(set(near) & set(self.rules["channel_filter_words"]))

    def _channel_filter(self, q: Query, extra: dict[str, Any]) -> None:
        """A channel named next to a KPI that is not measured per channel, without words that
        make it a filter ("the impact of reps on NPS"): asked back, never assumed."""
        f = extra.get("unworded_channel")
        if f is None or q.channel != f.entity.id or q.clarify is not None \
                or q.intent not in self.rules["channel_filter_intents"] \
                or (q.kpi is not None and q.kpi in self.lex.kpi_per_channel):
            return
        q.channel = None
        q.clarify = Clarify("channel", "did_you_mean", [f"HCPs reached by {f.entity.name}"],
                            [f.entity.id])

    def _selects_a_channel(self, kpi: _Found, channels: list[_Found], tokens: list[str]
                           ) -> bool:
        """Whether a KPI word is the wording of a channel filter instead: "among HCPs
        *reached* by MSL visits" selects HCPs, while "the share of HCPs reached by MSL
        visits" asks for the reach."""
        rule = self.rules["channel_selecting_kpi_words"]
        if kpi.phrase not in rule["words"]:
            return False
        before = tokens[max(0, kpi.pos - rule["lead_window"]):kpi.pos]
        n = self.rules["channel_filter_window"]
        return bool(set(before) & set(rule["leads"])) and any(
            0 < c.pos - kpi.pos <= n + 1 for c in channels)

    def _kpis(self, q: Query, kpis: list[_Found]) -> None:
        """Every KPI named, in order (`kpis`), and the one answered (`kpi`). Weak KPI words
        ("which product has the highest NPS") yield to a KPI named otherwise, and name none
        next to an event ("the impact of the field force cut")."""
        weak = set(self.rules.get("weak_kpi_words") or [])
        strong = [f for f in kpis if f.phrase not in weak]
        use = strong or ([] if q.event else kpis)
        if not use:
            return
        q.kpi = self._pick_kpi(use).entity.id
        measures = [f.entity.id for f in use if f.entity.id != "perception_gap"] or [q.kpi]
        q.kpis = list(dict.fromkeys(measures))

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
                        # one thing: catalogue order
                        found.append(_Found(i, ents[0], n, phrase=phrase))
                    i += n
                    break
            else:
                hit = self._fuzzy(tokens[i], q, original)
                if hit is not None:
                    found.append(_Found(i, hit, 1, _as_typed(tokens[i], original),
                                        tokens[i]))
                i += 1
        return found

    @staticmethod
    def _pick_kpi(kpis: list[_Found]) -> _Found:
        """The first KPI typed. The perception gap is an analysis, not a measure:
        "perception gap on CX index" is about the CX index."""
        measures = [f for f in kpis if f.entity.id != "perception_gap"] or kpis
        return min(measures, key=lambda f: f.pos)

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

    def _assign(self, q: Query, e: Entity, extra: dict[str, Any]) -> None:
        if e.slot in _SEGMENT_SLOTS and e.id not in extra[e.slot]:
            extra[e.slot].append(e.id)  # every value named, for "prescribers vs non-prescribers"
        if e.slot == "channel_group":
            if e.id not in extra["channel_group"]:
                extra["channel_group"].append(e.id)
        elif e.slot == "brand" and e.id not in q.brands:
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

    def _compare_slot(self, q: Query, extra: dict[str, Any]) -> None:
        """Two values named for one slot: the two sides of a comparison. Two values of a
        segment are compared only when a comparison word joins them ("prescribers vs
        non-prescribers"); otherwise ("prescribers and non-prescribers") one value each."""
        self._channel_group(q, extra)
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
        text = normalise(q.text)
        if not any(has_phrase(text, c) for c in self.rules["segment_compare_cues"]):
            return
        for dim in _SEGMENT_SLOTS:
            vals = extra[dim]
            if len(vals) == 2:
                q.compare = Compare(dim, vals[0], vals[1])
                setattr(q, dim, None)
                if dim in q.by:
                    q.by.remove(dim)
                return

    def _channel_group(self, q: Query, extra: dict[str, Any]) -> None:
        """"among HCPs with MSL contact": a group of channels, and a filter takes one: asked
        back with the channels of the group (a negated group is refused instead)."""
        groups = extra["channel_group"]
        if not groups or q.channel is not None or q.clarify is not None:
            return
        ids = self.lex.channel_groups.get(groups[0], [])
        name = self.lex.name("channel_group", groups[0])
        q.clarify = Clarify("channel", "which channel",
                            [self.lex.name("channel", c) for c in ids], list(ids),
                            f"{name} covers more than one channel, and a filter takes one.")

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
        if rule.get("breakdown") and rule["breakdown"] not in q.by:
            q.by.append(rule["breakdown"])  # "which market has the lowest NPS"
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


def _label(labels: dict[str, dict[Any, str]], slot: str, ids: list[Any]) -> str:
    """Segment values in words ("GPs", "office-based HCPs")."""
    words = [labels.get(slot, {}).get(i, str(i)) for i in ids]
    return " and ".join(words)


def _as_typed(tok: str, original: str) -> str | None:
    """The word as it was typed in the question (its case), for saying what was read."""
    m = re.search(rf"(?<![A-Za-z0-9]){re.escape(tok)}(?![A-Za-z0-9])", original, re.IGNORECASE)
    return m.group(0) if m else None
