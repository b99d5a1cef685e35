"""`Assistant`: question in, `Answer` out. Thread-safe; never raises.

parse (rules) -> [optional LLM mapping of an unparsed question] -> merge with the
conversation -> complete defaults / clarify -> engine and/or retrieval -> text
-> [optional LLM summary above the text, numbers checked against the evidence].
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant.answer import Answer
from assistant.compose import Composer
from assistant.conversation import Conversation
from assistant.lexicon import Lexicon
from assistant.parser import Parser
from assistant.query import Query
from assistant.router import Router

log = logging.getLogger(__name__)


class Assistant:
    def __init__(self, engine: Any, retriever_factory: Callable[[], Any] | None = None, *,
                 scenario: Path | str | None = None, llm: Any = None):
        """`retriever_factory` builds the document retriever on first use (tests pass a fake);
        `llm` is an `assistant.llm.LlmHelper` or None (the default: no LLM at all)."""
        if scenario is None:
            from assistant.config import Settings
            scenario = Settings().scenario
        self.engine = engine
        self.lexicon = Lexicon.build(engine.catalogue(), scenario)
        self.parser = Parser(self.lexicon)
        self.router = Router(engine, self.lexicon, retriever_factory)
        self.composer = Composer(self.lexicon, engine.thresholds.confidence)
        self.llm = llm

    @classmethod
    def from_settings(cls, db: Path | str | None = None, index_dir: Path | str | None = None
                      ) -> Assistant:
        from assistant.config import Settings

        s = Settings()
        engine = s.open_engine(db)
        factory = None
        if index_dir is not None:
            def factory() -> Any:
                from index.retrieval import Retriever
                return Retriever(index_dir, host=s.chroma_host, port=s.chroma_port)
        return cls(engine, factory, scenario=s.scenario, llm=configured_llm())

    def parse(self, question: str) -> Query:
        return self.parser.parse(question)

    def ask(self, question: str, conversation: Conversation | None = None) -> Answer:
        try:
            return self._ask(question, conversation)
        except Exception as exc:  # the contract: a plain answer, never an exception
            log.exception("assistant failed on %r", question)
            return Answer(question=question, route="none", intent="none", query={},
                          text="Sorry, something went wrong while answering that question "
                               f"({type(exc).__name__}). Please rephrase or try again.",
                          warnings=[f"internal error: {type(exc).__name__}: {exc}"])

    def _ask(self, question: str, conversation: Conversation | None) -> Answer:
        parsed = self.parser.parse(question)
        if self.llm is not None and parsed.intent == "out_of_scope" and not parsed.cued:
            # Only what no rule understood: a cued refusal (respondent-level data, the
            # weather) stays refused whatever a model would make of it.
            parsed = self.llm.to_query(question, self.lexicon) or parsed
        q = conversation.merge(parsed) if conversation is not None else parsed
        q = self.router.complete(q)
        routed = self.router.run(q)
        answer = self.composer.answer(question, routed)
        if self.llm is not None and routed.route == "engine":
            self._summarise(answer)
        if conversation is not None and routed.route != "none":
            conversation.remember(routed.query)
        return answer

    def _summarise(self, answer: Answer) -> None:
        """The LLM's short summary above the templated text, which stays in full (bases,
        intervals, significance). "Why" answers (route both) are not summarised: their
        numbers and documents must stay visibly apart."""
        assert self.llm is not None
        summary = self.llm.phrase(answer)
        if summary is None:
            return
        answer.text = f"{summary}\n\n{answer.text}"
        answer.evidence.append({"kind": "note", "text": f"summary phrased by {self.llm.name} "
                                "from this answer; its numbers checked against the evidence"})


def configured_llm() -> Any:
    """The `LlmHelper` for CXASSIST_LLM, or None: unset (the default), or not usable."""
    from assistant.config import Settings

    spec = Settings().llm
    if not spec:
        return None
    from assistant.llm import LlmHelper  # LangChain only when an LLM is configured

    try:
        return LlmHelper.from_spec(spec)
    except Exception as exc:  # e.g. the provider's package is missing: rules only
        log.warning("CXASSIST_LLM=%s is not usable, answering without it: %s", spec, exc)
        return None
