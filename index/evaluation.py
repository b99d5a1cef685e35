"""Retrieval evaluation: labelled questions -> gold sections, scored per search mode.

A labelled question names one or more gold sections by source file and the text of the
section's deepest heading (`section: "Minimum base rules"` matches a passage whose section path
ends in "... > Minimum base rules"). Gold sections are often alternatives (the executive summary
*or* the market section), so:

- recall@k: share of questions with at least one gold section in the top k passages;
- MRR: mean over questions of 1 / rank of the first gold passage (0 when none is retrieved);
- nDCG@k: binary gain per gold section, counted at its first passage only (further chunks of
  the same section add nothing), normalised by the ideal ranking of all gold sections;
- gold recall@k (reported, not a target): share of a question's gold sections found, averaged.

Used by `tests/test_retrieval_eval.py` and `benchmarks/bench_chunking.py`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from index.chunking import SECTION_SEP

FILTER_KEYS = frozenset({"doc_type", "wave", "market", "brand", "therapy_area"})
RECALL_K = 5
NDCG_K = 10


@dataclass(frozen=True)
class GoldSection:
    source: str
    section: str  # deepest heading of the section


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    filters: Mapping[str, str]
    gold: tuple[GoldSection, ...]
    origin: str = ""  # file the question came from, for messages


class PassageLike(Protocol):
    source: str
    section: str


class Searcher(Protocol):
    def search(self, query: str, k: int = 5, **kwargs: Any) -> Sequence[PassageLike]: ...


def section_key(source: str, section_path: str) -> GoldSection:
    """The key a passage is judged by: its source and the last heading of its section path."""
    return GoldSection(source, section_path.split(SECTION_SEP)[-1].strip())


# ---------------------------------------------------------------- metrics


def recall_at_k(ranked: Sequence[Hashable], gold: Collection[Hashable], k: int) -> float:
    """1.0 if any of the first `k` items is gold, else 0.0."""
    return 1.0 if any(item in gold for item in ranked[:k]) else 0.0


def gold_recall_at_k(ranked: Sequence[Hashable], gold: Collection[Hashable], k: int) -> float:
    """Share of the distinct gold items found among the first `k`."""
    if not gold:
        return 0.0
    return len(set(ranked[:k]) & set(gold)) / len(set(gold))


def reciprocal_rank(ranked: Sequence[Hashable], gold: Collection[Hashable]) -> float:
    """1 / rank (from 1) of the first gold item; 0.0 if there is none."""
    for rank, item in enumerate(ranked, start=1):
        if item in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[Hashable], gold: Collection[Hashable], k: int) -> float:
    """Binary-gain nDCG@k; a gold item repeated further down the ranking earns nothing."""
    distinct = set(gold)
    if not distinct:
        return 0.0
    seen: set[Hashable] = set()
    dcg = 0.0
    for rank, item in enumerate(ranked[:k], start=1):
        if item in distinct and item not in seen:
            seen.add(item)
            dcg += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(distinct), k) + 1))
    return dcg / ideal


# ---------------------------------------------------------------- labelled set


def load_questions(paths: Iterable[Path | str]) -> list[EvalQuestion]:
    """Read labelled questions from YAML files (a list of {question, filters, gold});
    raises ValueError naming the file and entry for anything malformed."""
    questions: list[EvalQuestion] = []
    for path in map(Path, paths):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a list of questions")
        for n, entry in enumerate(entries, start=1):
            try:
                questions.append(_question(entry, path.name))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}: entry {n}: {exc}") from None
    return questions


def _question(entry: Mapping[str, Any], origin: str) -> EvalQuestion:
    text = str(entry["question"]).strip()
    filters = {str(k): str(v) for k, v in (entry.get("filters") or {}).items()}
    unknown = set(filters) - FILTER_KEYS
    if not text or unknown:
        raise ValueError(f"empty question or unknown filters {sorted(unknown)}")
    gold = tuple(GoldSection(str(g["source"]), str(g["section"])) for g in entry["gold"])
    if not gold:
        raise ValueError("no gold section")
    return EvalQuestion(text, filters, gold, origin)


# ---------------------------------------------------------------- evaluation


@dataclass
class ModeScores:
    """Mean metrics of one search mode over a question set, plus the questions it missed."""

    mode: str
    questions: int = 0
    recall_at_5: float = 0.0
    mrr: float = 0.0
    ndcg_at_10: float = 0.0
    gold_recall_at_5: float = 0.0
    misses: list[str] = field(default_factory=list)  # no gold section in the top 5

    def as_dict(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "recall@5": round(self.recall_at_5, 3),
            "mrr": round(self.mrr, 3),
            "ndcg@10": round(self.ndcg_at_10, 3),
            "gold_recall@5": round(self.gold_recall_at_5, 3),
        }


def evaluate_mode(searcher: Searcher, questions: Sequence[EvalQuestion], mode: str) -> ModeScores:
    """Search every question (with its filters) in `mode` and average the metrics."""
    scores = ModeScores(mode, questions=len(questions))
    if not questions:
        return scores
    totals = [0.0, 0.0, 0.0, 0.0]
    for q in questions:
        passages = searcher.search(q.question, k=NDCG_K, mode=mode, **q.filters)
        ranked = [section_key(p.source, p.section) for p in passages]
        gold = set(q.gold)
        hit = recall_at_k(ranked, gold, RECALL_K)
        totals[0] += hit
        totals[1] += reciprocal_rank(ranked, gold)
        totals[2] += ndcg_at_k(ranked, gold, NDCG_K)
        totals[3] += gold_recall_at_k(ranked, gold, RECALL_K)
        if not hit:
            scores.misses.append(q.question)
    n = len(questions)
    scores.recall_at_5, scores.mrr, scores.ndcg_at_10, scores.gold_recall_at_5 = (
        t / n for t in totals
    )
    return scores


def evaluate(
    searcher: Searcher, questions: Sequence[EvalQuestion], modes: Sequence[str]
) -> dict[str, ModeScores]:
    return {mode: evaluate_mode(searcher, questions, mode) for mode in modes}


def format_table(results: Mapping[str, ModeScores]) -> str:
    """A plain-text table, one row per mode."""
    header = f"{'mode':<8} {'n':>4} {'recall@5':>9} {'MRR':>7} {'nDCG@10':>8} {'gold_rec@5':>10}"
    rows = [header, "-" * len(header)]
    for s in results.values():
        rows.append(
            f"{s.mode:<8} {s.questions:>4} {s.recall_at_5:>9.3f} {s.mrr:>7.3f} "
            f"{s.ndcg_at_10:>8.3f} {s.gold_recall_at_5:>10.3f}"
        )
    return "\n".join(rows)
