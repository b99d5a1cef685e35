"""Lexical ranking: a tokenizer that keeps domain identifiers whole, and BM25 over chunks.

Codes such as `2025-q4`, `f2f_rep` or `driver:ease` are the words analysts actually type, so
they survive as single tokens; their parts are added as well, so "ease" still finds
`driver:ease`. Stemming is deliberately light (plural "s", possessive "'s"): enough to match
"promoters" with "promoter" without mangling brand names.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_TOKEN_RE = re.compile(r"\w+(?:[-:.'’/]\w+)*")
_PART_RE = re.compile(r"[-:.'’/_]")
_STOPWORDS = frozenset(
    """a an and are as at be but by did do does for from had has have how i if in into is it
    its me my of on or our so than that the their them then there these they this to was we
    were what when where which who why will with you your""".split()
)


def _stem(token: str) -> str:
    if token.endswith(("'s", "’s")):
        token = token[:-2]
    # Plural "s" only on plain alphabetic words; codes like `2025-q4s` or `nps` stay intact.
    if len(token) > 4 and token.isalpha() and token.endswith("s") and not token.endswith("ss"):
        token = token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Lowercase tokens without punctuation; compound codes plus their parts."""
    out: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        token = match.group(0).strip("_")
        if not token or token in _STOPWORDS:
            continue
        out.append(_stem(token))
        if _PART_RE.search(token):
            out.extend(
                _stem(part) for part in _PART_RE.split(token) if part and part not in _STOPWORDS
            )
    return out


class BM25Index:
    """BM25 (Okapi) scores for every chunk at once, so filters can mask before ranking.

    rank_bm25 provides the scoring; langchain's BM25Retriever wraps the same library but
    returns neither scores nor a way to restrict the candidate set, both of which we need.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        from rank_bm25 import BM25Okapi

        self._size = len(texts)
        corpus = [tokenize(t) for t in texts]
        # BM25Okapi divides by the corpus size, and an all-empty corpus has no vocabulary.
        self._bm25 = BM25Okapi(corpus) if any(corpus) else None

    def __len__(self) -> int:
        return self._size

    def scores(self, query: str) -> np.ndarray:
        tokens = tokenize(query)
        if self._bm25 is None or not tokens:
            return np.zeros(self._size, dtype=np.float64)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float64)

    def top(self, query: str, n: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Indices and scores of the best `n` chunks with a positive score (and mask True)."""
        scores = self.scores(query)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        positive = np.flatnonzero(scores > 0)
        if positive.size == 0 or n <= 0:
            return []
        best = positive[np.argsort(-scores[positive], kind="stable")[:n]]
        return [(int(i), float(scores[i])) for i in best]
