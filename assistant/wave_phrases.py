"""The wave phrases of a question: wave ids, "since", "before", "last N waves", "latest",
"previous", "first time", "over time", a bare year or quarter, "the light wave", "last
year".

Read first of all by the parser (so "over time" never reads as the KPI "time"): each
phrase fills `Query.waves`, `Query.wave_ref` or a comparison of waves, and is taken out
of the text the parser goes on reading.
"""

from __future__ import annotations

import re

from assistant.lexicon import Lexicon
from assistant.phrase_match import ends_with_phrase, replace_phrases, strip_phrases
from assistant.query import Clarify, Compare, Query


class WavePhrases:
    def __init__(self, lexicon: Lexicon):
        self.lex = lexicon
        self.rules = lexicon.rules

    def take(self, text: str, q: Query) -> str:
        """Fill `q`'s waves, wave reference, wave comparison or "which year" question from
        the wave phrases of `text` (normalised); return the text without them."""
        text = self._relative_phrases(text, q)
        self._explicit_waves(text, q)
        for pat in self.rules["wave_patterns"]:
            text = re.sub(pat, " ", text)
        m = re.search(self.rules["before_pattern"], text)
        if m and q.wave_ref is None and not q.waves:
            q.wave_ref = f"before:{m.group('year')}"  # "before 2025": the years before it
            text = text[:m.start()] + " " + text[m.end():]
        m = re.search(self.rules["since_pattern"], text)
        if m and q.wave_ref is None:
            q.wave_ref = f"since:{m.group('year')}"
            text = text[:m.start()] + " " + text[m.end():]
        m = re.search(self.rules["last_n_pattern"], text)
        n = self._number(m.group("n")) if m else None
        if m and n:
            q.wave_ref = q.wave_ref or f"last:{n}"
            text = text[:m.start()] + " " + text[m.end():]
        refs = []
        for ref in ("first", "previous", "latest", "all"):
            text, found = strip_phrases(text, self.rules["wave_phrases"][ref])
            if found:
                refs.append(ref)
        if "previous" in refs and "latest" in refs:
            q.compare = Compare("wave", "previous", "reference")
        if refs and q.wave_ref is None:
            q.wave_ref = refs[0]
        text = self._bare_quarter(text, q)
        for m in re.finditer(self.rules["year_pattern"], text):
            in_year = self.lex.waves_in_year(int(m.group("year")))
            if in_year and not q.waves and q.wave_ref is None:
                q.waves = in_year[-1:]
                q.defaults.append(f"{m.group('year')} read as its last wave {in_year[-1]}")
            elif not in_year:
                q.unknown_waves.append(m.group("year"))
        return re.sub(self.rules["year_pattern"], " ", text)

    def _relative_phrases(self, text: str, q: Query) -> str:
        """"the light wave" -> its wave id, "last year" -> the year, before the wave rules."""
        light = self.lex.light_waves()
        if light:
            text, found = replace_phrases(text, self.rules["light_wave_phrases"], light[-1].lower())
            if found:
                q.defaults.append(f"the light wave read as {light[-1]}"
                                  + (" (the latest of the light waves)" if len(light) > 1
                                     else ""))
        latest = self.lex.wave_ids()[-1] if self.lex.wave_ids() else None
        if latest is None:
            return text
        for phrase, offset in self.rules["relative_years"].items():
            year = int(latest[:4]) + int(offset)
            text, found = replace_phrases(text, [phrase], str(year))
            if found:
                q.defaults.append(f"{phrase} read as {year} (the latest wave is {latest})")
        return text

    def _explicit_waves(self, text: str, q: Query) -> None:
        """Wave ids typed out; one preceded by "since" starts a series, one preceded by "vs"
        is the other side of a comparison of waves."""
        known = self.lex.wave_ids()
        preps = self.rules["wave_prepositions"]
        hits: list[tuple[int, str, str]] = []  # (position, wave id, what the word before says)
        for pat in self.rules["wave_patterns"]:
            for m in re.finditer(pat, text):
                wid = f"{m.group('year')}-Q{m.group('q')}"
                before = text[:m.start()]
                role = next((r for r in ("since", "versus", "before")
                             if ends_with_phrase(before, preps[r])), "")
                hits.append((m.start(), wid, role))
        hits.sort()
        for _, wid, _ in hits:
            target = q.waves if wid in known else q.unknown_waves
            if wid not in target:
                target.append(wid)
        q.waves = sorted(q.waves, key=known.index)
        roles = {wid: role for _, wid, role in hits if wid in known}
        if len(q.waves) == 1 and roles[q.waves[0]] in ("since", "before"):
            # "since 2025-Q2" starts a series, "before 2025-Q4" ends one (that wave excluded)
            q.wave_ref, q.waves = f"{roles[q.waves[0]]}:{q.waves[0]}", []
            return
        versus = [w for w in q.waves if roles[w] == "versus"]
        if versus and q.compare is None:
            q.compare = Compare("wave", versus[0], "reference")

    def _bare_quarter(self, text: str, q: Query) -> str:
        """"in Q2" with no year: asked back, listing the waves of that quarter."""
        m = re.search(self.rules["quarter_pattern"], text)
        if m is None:
            return text
        quarter = f"Q{m.group('q')}"
        options = [w for w in self.lex.wave_ids() if w.endswith(quarter)]
        rest = text[:m.start()] + " " + text[m.end():]
        year = re.search(self.rules["year_pattern"], rest)
        if year and f"{year.group('year')}-{quarter}" in options and not q.waves:
            q.waves = [f"{year.group('year')}-{quarter}"]  # "Q2 of 2025"
            return rest[:year.start()] + " " + rest[year.end():]
        if not options:
            q.unknown_waves.append(quarter)
        elif not q.waves and q.wave_ref is None:
            q.clarify = Clarify("wave", f"{quarter} of which year", options, list(options))
        return rest

    def _number(self, word: str) -> int | None:
        if word.isdigit():
            return int(word)
        return self.rules["number_words"].get(word)
