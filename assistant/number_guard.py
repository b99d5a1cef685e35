"""The number guard: every number a text states must come from the evidence.

Used on LLM-phrased summaries (assistant/llm.py). Each number of the text is read with
its sign and its kind, told by the words around it:
- a *change*: "up 13 points", "fell by 4", "rose 2" are signed by the verb ("down 15"
  is -15); "13 points higher", "2 below the leader" state a change of that size;
- a *base*: "base 209", "effective base 196", "from 209 HCPs";
- a *value* otherwise ("NPS is -3", "CI -13 to +7", "at 37%"), signed as written.
It is supported only by a number of the answer's values or evidence of the same kind,
with the same sign, equal at the precision written. A value may also be stated by a
signed amount of the evidence that is not a level (a driver contribution "-3 points",
a gap "-2"), but never by a base: "NPS is 210" is not supported by an effective base
of 210, nor "+3" by a true -3. The numbers of the evidence are classed the same way:
by their field name (`base`, `effective_base`, `*_base`, `n_*` are bases; a name with a
part `change`, `difference`, `delta`, `gap`, `contribution`, ... is a change) and,
inside texts, by the same words as the summary.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from assistant.answer import Answer

_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?")
# Wave ids (2025-Q4, Q4 2025) are names, not numbers.
_WAVE_ID = re.compile(r"\b\d{4}-Q\d\b|\bQ\d\s+\d{4}\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z_]+")
_BREAK = re.compile(r"[0-9,;:()\[\]]")

# Verbs before a number make it a signed change ("fell by 4" is -4).
_UP = {"up", "rose", "rise", "risen", "increased", "gained", "grew", "improved", "climbed"}
_DOWN = {"down", "fell", "fallen", "dropped", "decreased", "declined", "lost", "worsened"}
# Comparatives after a number make it a change whose sign depends on which side is the
# subject ("B is 2 points below A" is A - B = +2 or B - A = -2): matched on its size.
_COMPARATIVES = {"higher", "lower", "above", "below", "ahead", "behind", "more", "less"}
_UNITS = {"points", "point", "pp", "percentage"}
# Words before a number that make it a level even after a verb ("fell to -1").
_LEVEL = {"to", "from", "at", "is", "was", "of", "reached", "stands", "equals", "scored"}
_BASE_BEFORE = {"base", "bases", "n", "n_eff", "sample"}
_BASE_AFTER = {"hcps", "hcp", "respondents", "raters", "doctors", "physicians",
               "interviews", "ratings"}
_CHANGE_KEYS = ("change", "difference", "delta", "gap", "contribution", "explained",
                "unexplained", "mix", "rate", "interaction", "remainder")
_BASE_KEYS = ("base", "n_eff", "n_common", "n")
_LOOK = 3  # words looked at on each side of a number


@dataclass(frozen=True)
class Mention:
    """A number as the text states it: signed, its kind, and the decimals written."""

    written: str
    value: float
    kind: str  # value | base | change
    decimals: int
    signed: bool = True  # False: only the size is stated ("2 points below")


def mentions(text: str) -> list[Mention]:
    """The numbers of `text` with their sign and kind (wave ids are not numbers)."""
    text = _WAVE_ID.sub(" ", text)
    out = []
    for m in _NUMBER.finditer(text):
        # The words that belong to this number: up to the neighbouring number or clause.
        before = _WORD.findall(_BREAK.split(text[:m.start()].lower())[-1])[-_LOOK:]
        after = _WORD.findall(_BREAK.split(text[m.end():].lower(), maxsplit=1)[0])[:_LOOK]
        written = m.group(0)
        decimals = len(written.split(".")[1]) if "." in written else 0
        kind, sign = _classify(before, after)
        value = float(written) if sign is None else (sign or 1) * abs(float(written))
        out.append(Mention(written, value, kind, decimals, signed=sign != 0))
    return out


def numbers_in(text: str) -> list[str]:
    """Numbers as written (wave ids like 2025-Q4 are names, not numbers)."""
    return [m.written for m in mentions(text)]


def _classify(before: list[str], after: list[str]) -> tuple[str, int | None]:
    """(kind, sign) for a number between these words: the sign a verb gives it, 0 when
    only its size can be checked, None when the number's own sign stands."""
    last = before[-1] if before else ""
    if last in _BASE_BEFORE or (after and after[0] in _BASE_AFTER) or "base" in before[-2:]:
        return "base", None
    follow = next((w for w in after if w not in _UNITS), "")
    if follow in _COMPARATIVES:
        return "change", 0
    if last in _LEVEL:
        return "value", None
    for word in reversed(before):
        if word in _UP or word in _DOWN:
            return "change", 1 if word in _UP else -1
    return "value", None


def _known(obj: Any, kind: str = "value") -> Iterator[tuple[str, float]]:
    """(kind, signed number) for every number of the evidence; field names give the kind,
    numbers inside strings are read like the text. SQL items are left out."""
    if isinstance(obj, bool) or obj is None:
        return
    if isinstance(obj, (int, float)):
        yield kind, float(obj)
    elif isinstance(obj, str):
        for m in mentions(obj):
            yield m.kind, m.value
    elif isinstance(obj, dict):
        if obj.get("kind") == "sql":  # how a statement ran (its literals, timing), not results
            return
        for k, v in obj.items():
            yield from _known(v, _kind_of_key(str(k), kind))
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _known(v, kind)


def _kind_of_key(key: str, inherited: str) -> str:
    k = key.lower()
    if k in _BASE_KEYS or k.endswith("_base") or k.startswith("n_"):
        return "base"
    if any(part in _CHANGE_KEYS for part in k.split("_")):
        return "change"
    return inherited


def _supports(m: Mention, kind: str, x: float) -> bool:
    if m.kind == "base":
        ok = kind == "base"
    elif m.kind == "change":
        ok = kind == "change"
    else:
        ok = kind in ("value", "change")
    return ok and (_same(x, m.value, m.decimals) if m.signed
                   else _same(abs(x), abs(m.value), m.decimals))


def _same(x: float, y: float, decimals: int) -> bool:
    a, b = f"{x:.{decimals}f}", f"{y:.{decimals}f}"
    return a == b or (float(a) == 0 and float(b) == 0)  # "-0" is "0"


def unsupported_numbers(text: str, answer: Answer) -> list[str]:
    """Numbers in `text` that no value or evidence number of the same kind and sign
    supports at the precision written. The question and the parsed query are not
    evidence: "pretend the NPS is 90" must not make 90 acceptable."""
    known = list(_known([answer.values, answer.evidence]))
    return [m.written for m in mentions(text)
            if not any(_supports(m, kind, x) for kind, x in known)]
