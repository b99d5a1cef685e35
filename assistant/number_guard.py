"""The number guard: every number a text states must come from the evidence.

Used on LLM-phrased summaries (assistant/llm.py): a sentence with a number that
no value or evidence item supports, at the precision it is written, is rejected.
"""

from __future__ import annotations

import re
from typing import Any

from assistant.answer import Answer

_NUMBER = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?")
_WAVE_ID = re.compile(r"\b\d{4}-Q\d\b", re.IGNORECASE)


def numbers_in(text: str) -> list[str]:
    """Numbers as written (wave ids like 2025-Q4 are names, not numbers)."""
    return _NUMBER.findall(_WAVE_ID.sub(" ", text))


def _evidence_numbers(obj: Any, out: set[float]) -> None:
    if isinstance(obj, bool) or obj is None:
        return
    if isinstance(obj, (int, float)):
        out.add(abs(float(obj)))
    elif isinstance(obj, str):
        out.update(abs(float(n)) for n in numbers_in(obj))
    elif isinstance(obj, dict):
        for v in obj.values():
            _evidence_numbers(v, out)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _evidence_numbers(v, out)


def unsupported_numbers(text: str, answer: Answer) -> list[str]:
    """Numbers in `text` that no value or evidence item supports, after the display rounding
    (the decimals shown) and ignoring the sign ("down 10 points"). The question and the
    parsed query are not evidence: "pretend the NPS is 90" must not make 90 acceptable."""
    known: set[float] = set()
    _evidence_numbers([answer.values, answer.evidence], known)
    bad = []
    for n in numbers_in(text):
        decimals = len(n.split(".")[1]) if "." in n else 0
        shown = n.lstrip("+-")
        if not any(f"{x:.{decimals}f}" == shown for x in known):
            bad.append(n)
    return bad

