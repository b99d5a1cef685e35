"""Whole-word matching of the rule tables' phrases on normalised text.

Shared by the parser and the wave phrases (wave_phrases.py): a phrase matches only as
whole words, so "it" never matches inside "italy".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from assistant.lexicon import normalise


@cache  # the rule tables hold more phrases than `re` caches patterns
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """A phrase as a whole-word pattern on normalised text."""
    return re.compile(rf"(?<![a-z0-9]){re.escape(normalise(phrase))}(?![a-z0-9])")


def has_phrase(text: str, phrase: str) -> bool:
    return phrase_pattern(phrase).search(text) is not None


def strip_phrases(text: str, phrases: Iterable[str]) -> tuple[str, list[str]]:
    """Remove every phrase found (longest first); return the rest and what was found."""
    return _substitute(text, phrases, " ")


def replace_phrases(text: str, phrases: Iterable[str],
                    replacement: str) -> tuple[str, list[str]]:
    """Replace every phrase found (longest first) by `replacement`."""
    return _substitute(text, phrases, f" {replacement} ")


def _substitute(text: str, phrases: Iterable[str], by: str) -> tuple[str, list[str]]:
    # Longest first, so a phrase inside a longer one ("wave" in "last wave") is not cut out
    # of it before the longer one is seen.
    found = []
    for p in sorted(set(phrases), key=len, reverse=True):
        pattern = phrase_pattern(p)
        if pattern.search(text):
            found.append(p)
            text = pattern.sub(by, text)
    return text, found


def ends_with_phrase(text: str, phrases: Iterable[str]) -> bool:
    """Whether `text` ends with one of the phrases (as whole words)."""
    return any(re.search(rf"(?<![a-z0-9]){re.escape(normalise(p))}\s*$", text) for p in phrases)
