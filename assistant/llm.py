"""Optional LLM help, off by default (env CXASSIST_LLM="provider:model").

Two narrow jobs, both fenced in by deterministic checks:
1. map a question the rules could not parse to the Query schema; every slot is
   validated against the catalogue, and anything invalid becomes a clarifying
   question (never a guess);
2. phrase a short summary of a computed answer; a guard (number_guard.py) rejects
   any summary with a number that the answer's values or evidence do not hold with
   the same sign and of the same kind (value, base, change), and the templated text
   then stands alone.
Nothing here is imported unless the variable is set (or a test passes a model):
LangChain itself is imported inside `from_spec` only.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from assistant.answer import Answer
from assistant.lexicon import Lexicon
from assistant.number_guard import unsupported_numbers
from assistant.query import INTENTS, Clarify, Query

log = logging.getLogger(__name__)

_SCHEMA_PROMPT = """Map the question to JSON with keys: intent (one of {intents}), kpi,
brands (list), company, ta, markets (list), waves (list). Use only these ids.
kpi: {kpis}
brands: {brands}
companies: {companies}
ta: {tas}
markets: {markets}
waves: {waves}
Use null or [] for anything the question does not say. Reply with the JSON only.
Question: {question}"""

_PHRASE_PROMPT = """Summarise this answer in at most two short plain sentences for a pharma
brand leader. Use only numbers that appear in it, unchanged. Answer:
{text}"""

# slot -> (lexicon option key, is a list)
_SLOTS = {"kpi": ("kpi", False), "brands": ("brand", True), "company": ("company", False),
          "ta": ("ta", False), "markets": ("market", True), "waves": ("wave", True)}


class LlmHelper:
    def __init__(self, model: Any, name: str = "LLM"):
        self.model = model
        self.name = name

    @classmethod
    def from_spec(cls, spec: str) -> LlmHelper:
        from langchain.chat_models import init_chat_model  # only when an LLM is configured

        return cls(init_chat_model(spec, temperature=0), name=spec)

    def _ask(self, prompt: str) -> str:
        reply = self.model.invoke(prompt)
        return str(getattr(reply, "content", reply))

    def to_query(self, question: str, lex: Lexicon) -> Query | None:
        """A validated Query, a Query asking to clarify, or None when the model gives no
        usable mapping (no JSON, or an intent that does not exist)."""
        o = lex.options
        prompt = _SCHEMA_PROMPT.format(
            intents=", ".join(INTENTS), kpis=", ".join(o["kpi"]), brands=", ".join(o["brand"]),
            companies=", ".join(o["company"]), tas=", ".join(o["ta"]),
            markets=", ".join(o["market"]), waves=", ".join(o["wave"]), question=question)
        try:
            raw = self._ask(prompt)
            data = json.loads(re.search(r"\{.*\}", raw, re.S).group(0))  # type: ignore[union-attr]
        except Exception as exc:  # a model or network failure leaves the rules' answer
            log.info("LLM mapping failed: %s", exc)
            return None
        if not isinstance(data, dict) or data.get("intent") not in INTENTS:
            return None
        return validate(data, lex, question)

    def phrase(self, answer: Answer) -> str | None:
        """A short summary of the answer, or None when the model fails or the summary
        states a number the answer's values and evidence do not hold."""
        try:
            text = self._ask(_PHRASE_PROMPT.format(text=answer.text)).strip()
        except Exception as exc:
            log.info("LLM phrasing failed: %s", exc)
            return None
        bad = unsupported_numbers(text, answer)
        if bad:
            log.info("LLM summary rejected, numbers not in the evidence: %s", bad)
        return text if text and not bad else None


def validate(data: dict[str, Any], lex: Lexicon, question: str) -> Query:
    """Keep only catalogue ids; the first invalid slot becomes a clarifying question."""
    q = Query(intent=data["intent"], text=question, cued=True)
    for slot, (key, is_list) in _SLOTS.items():
        value = data.get(slot)
        if value in (None, "", []):
            continue
        values = value if isinstance(value, list) else [value]
        bad = [v for v in values if v not in lex.options[key]]
        if bad:
            q.clarify = Clarify(key, f"unknown {key} {bad[0]!r}",
                                [lex.name(key, i) for i in lex.options[key]])
            return q
        setattr(q, slot, list(values) if is_list else values[0])
    return q
