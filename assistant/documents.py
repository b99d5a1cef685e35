"""Passages from the document index: methodology notes for definitions and methods, the
wave report of the wave and market for a "why".

The retriever (torch, Chroma) is built on first use only, so a numeric answer never
loads it. Wave-report filters are relaxed step by step (brand, then market) but never
across waves: a passage from another wave's report would be quoted as the reason for
this wave's change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Passages = list[dict[str, Any]]


class Documents:
    def __init__(self, retriever_factory: Callable[[], Any] | None = None):
        self._factory = retriever_factory
        self._retriever: Any = None
        self._error: str | None = None
        self._lock = threading.Lock()

    def retriever(self) -> Any:
        """The retriever, built on first use; None (with a reason) when there is no index."""
        with self._lock:
            if self._retriever is None and self._error is None:
                try:
                    self._retriever = (self._factory or _default_retriever)()
                except Exception as exc:  # no index built, or a broken one: answer without it
                    self._error = f"document index not available ({exc})"
            return self._retriever

    def methodology(self, text: str, k: int = 3) -> tuple[Passages, str | None]:
        """Methodology notes first; any document when no note matches."""
        return self._first_hits(text, k, [{"doc_type": "methodology"}, {}])

    def wave_report(self, text: str, *, wave: str, market: str | None, brand: str | None,
                    k: int = 3) -> tuple[Passages, str | None]:
        """The passages of `wave`'s report about this market and brand, the most focused
        first; narrower filters are tried before wider ones, all within the wave."""
        steps = [{"doc_type": "wave_report", "wave": wave, "market": market, "brand": brand},
                 {"doc_type": "wave_report", "wave": wave, "market": market},
                 {"doc_type": "wave_report", "wave": wave}]
        # Deeper than k: the focused section may rank just below the report's summary.
        hits, warning = self._first_hits(text, 2 * k, steps)
        if not hits and warning is None:
            warning = (f"the document index holds no wave-report passage for {wave} (if that "
                       "report exists, rebuild the index: cxassist index build)")
        return _most_focused(hits, market, brand)[:k], warning

    def _first_hits(self, text: str, k: int, steps: list[dict[str, Any]]
                    ) -> tuple[Passages, str | None]:
        retriever = self.retriever()
        if retriever is None:
            return [], self._error
        try:
            for filters in steps:
                hits = retriever.search(text, k=k, **{f: v for f, v in filters.items()
                                                      if v is not None})
                if hits:
                    return [h.to_dict() if hasattr(h, "to_dict") else dict(h)
                            for h in hits], None
        except Exception as exc:
            return [], f"document search failed ({exc})"
        return [], None


def _most_focused(passages: Passages, market: str | None, brand: str | None) -> Passages:
    """Passages about this brand and market, and about little else, first (a stable sort,
    so the retriever's order decides among equally focused ones). A report's executive
    summary names every market; the section on this brand in this market is the answer."""
    def key(p: dict[str, Any]) -> tuple[bool, bool, int]:
        brands, markets = p.get("brands") or [], p.get("markets") or []
        return (brand is not None and brand not in brands,
                market is not None and market not in markets, len(brands) + len(markets))
    return sorted(passages, key=key)


def _default_retriever() -> Any:
    from assistant.config import Settings
    from index.retrieval import Retriever  # heavy (torch): only when documents are needed

    s = Settings()
    return Retriever(s.index_dir, host=s.chroma_host, port=s.chroma_port)
