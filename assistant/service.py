"""`Assistant`: question in, `Answer` out. Thread-safe; never raises.

parse (rules) -> [optional LLM mapping of an unparsed question] -> merge with the
conversation -> complete defaults / clarify -> engine and/or retrieval -> text
-> [optional LLM summary above the text, numbers checked against the evidence].
A question that fails is answered plainly: the engine's `Unanswerable` message, what to
do about a query time limit or a broken database, or an apology for a bug (logged with
its traceback; the exception's own text is never shown).
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
from cxengine.errors import Unanswerable
from cxengine.store import QueryTimeout, StoreError

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
        self.composer = Composer(self.lexicon, engine.thresholds)
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
        q: Query | None = None
        try:
            q = self._understand(question, conversation)
            return self._answer(question, q, conversation)
        except Exception as exc:  # the contract: a plain answer, never an exception
            return self._failure(question, q, exc)

    def _understand(self, question: str, conversation: Conversation | None) -> Query:
        """The completed query: parsed, mapped by the LLM when no rule understood it, merged
        with the conversation, defaults filled."""
        parsed = self.parser.parse(question)
        if self.llm is not None and parsed.intent == "out_of_scope" and not parsed.cued:
            # Only what no rule understood: a cued refusal (respondent-level data, the
            # weather) stays refused whatever a model would make of it.
            parsed = self.llm.to_query(question, self.lexicon) or parsed
        q = conversation.merge(parsed) if conversation is not None else parsed
        return self.router.complete(q)

    def _answer(self, question: str, q: Query, conversation: Conversation | None) -> Answer:
        routed = self.router.run(q)
        answer = self.composer.answer(question, routed)
        if self.llm is not None and routed.route == "engine":
            self._summarise(answer)
        if conversation is not None and routed.route != "none":
            conversation.remember(routed.query)
        return answer

    def _failure(self, question: str, q: Query | None, exc: Exception) -> Answer:
        """A plain answer for a question that failed: what happened and what to do. The
        traceback goes to the log; the answer never carries the exception's own text."""
        text, note = self._failure_text(exc)
        if isinstance(exc, Unanswerable):
            log.info("not answerable from the data: %r: %s", question, exc)
        else:
            log.error("assistant failed on %r", question, exc_info=exc)
        warnings = [] if note else ["internal error: the answer failed; details are in the log"]
        return Answer(question=question, route="none",
                      intent=q.intent if q is not None else "out_of_scope",
                      query=q.to_dict() if q is not None else {}, text=text,
                      evidence=[{"kind": "note", "text": note or "internal error (logged)",
                                 "error": type(exc).__name__}],
                      warnings=warnings)

    def _failure_text(self, exc: Exception) -> tuple[str, str | None]:
        """(answer text, evidence note) for a failure; the note is None when the failure
        is an internal error (a bug), not a known condition."""
        if isinstance(exc, Unanswerable):
            return str(exc), "not answerable from the data"
        if isinstance(exc, QueryTimeout):
            limit = getattr(getattr(self.engine, "store", None), "timeout_s", None)
            within = f" (limit {limit:g} s)" if limit is not None else ""
            return (f"The query took too long and was stopped{within}: narrow the question "
                    "(one brand, market or wave) and ask again."), "query time limit reached"
        if isinstance(exc, StoreError):
            db = getattr(getattr(self.engine, "store", None), "path", "data/cx.duckdb")
            return (f"The benchmark database is missing or damaged: delete {db} and run "
                    "`make data` (or `.venv/bin/cxassist data build`)."), "database error"
        return ("Sorry, something went wrong while answering that question. It has been "
                "logged; please rephrase or try again."), None

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
