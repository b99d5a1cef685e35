"""Retrieval metrics on hand-computed examples, and the labelled-set loader."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from index.evaluation import (
    EvalQuestion,
    GoldSection,
    evaluate_mode,
    format_table,
    gold_recall_at_k,
    load_questions,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
    section_key,
)

RANKED = ["a", "b", "c", "a", "d"]
GOLD = {"c", "d"}


def test_recall_is_a_hit_in_the_first_k() -> None:
    assert recall_at_k(RANKED, GOLD, 2) == 0.0
    assert recall_at_k(RANKED, GOLD, 3) == 1.0
    assert recall_at_k([], GOLD, 5) == 0.0


def test_gold_recall_counts_distinct_gold_items() -> None:
    assert gold_recall_at_k(RANKED, GOLD, 3) == 0.5
    assert gold_recall_at_k(RANKED, GOLD, 5) == 1.0
    assert gold_recall_at_k(["c", "c", "c"], GOLD, 3) == 0.5
    assert gold_recall_at_k(RANKED, set(), 5) == 0.0


def test_reciprocal_rank_of_the_first_gold_item() -> None:
    assert reciprocal_rank(RANKED, GOLD) == pytest.approx(1 / 3)
    assert reciprocal_rank(["d"], GOLD) == 1.0
    assert reciprocal_rank(["a", "b"], GOLD) == 0.0


def test_ndcg_by_hand() -> None:
    # Gold at ranks 3 and 5: DCG = 1/log2(4) + 1/log2(6) = 0.5 + 0.386853 = 0.886853;
    # ideal = 1/log2(2) + 1/log2(3) = 1 + 0.630930 = 1.630930; ratio 0.543771.
    assert ndcg_at_k(RANKED, GOLD, 5) == pytest.approx(0.543771, abs=1e-6)
    # At k=4 only rank 3 counts: 0.5 / 1.630930.
    assert ndcg_at_k(RANKED, GOLD, 4) == pytest.approx(0.306573, abs=1e-6)


def test_ndcg_counts_a_gold_section_once() -> None:
    assert ndcg_at_k(["g", "g", "x"], {"g"}, 3) == 1.0
    # Second-place hit, repeated at 3: 1/log2(3) only, not 1/log2(3) + 1/log2(4).
    assert ndcg_at_k(["x", "g", "g"], {"g"}, 3) == pytest.approx(0.630930, abs=1e-6)
    # More gold than k: the ideal ranking is cut at k too.
    assert ndcg_at_k(["a", "b"], {"a", "b", "c"}, 2) == 1.0
    assert ndcg_at_k(["x"], set(), 10) == 0.0


def test_section_key_is_source_and_deepest_heading() -> None:
    assert section_key("methodology/x.md", "Notes > Bases > Minimum base rules") == GoldSection(
        "methodology/x.md", "Minimum base rules")
    assert section_key("user/a.pdf", "page 1") == GoldSection("user/a.pdf", "page 1")


@dataclass(frozen=True)
class _Hit:
    source: str
    section: str


class _FixedSearcher:
    """Returns a fixed ranking per question and records the keyword arguments it got."""

    def __init__(self, rankings: dict[str, list[_Hit]]) -> None:
        self.rankings = rankings
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def search(self, query: str, k: int = 5, **kwargs: Any) -> list[_Hit]:
        self.calls.append((query, {"k": k, **kwargs}))
        return self.rankings[query][:k]


def test_evaluate_mode_averages_and_passes_filters() -> None:
    gold = GoldSection("r.md", "Germany")
    questions = [
        EvalQuestion("why germany", {"wave": "2025-Q4", "market": "DE"}, (gold,)),
        EvalQuestion("nothing fits", {}, (gold,)),
    ]
    searcher = _FixedSearcher({
        "why germany": [_Hit("r.md", "Report > France"), _Hit("r.md", "Report > Germany")],
        "nothing fits": [_Hit("m.md", "Germany")],  # right heading, wrong file
    })
    scores = evaluate_mode(searcher, questions, "hybrid")
    assert searcher.calls[0] == (
        "why germany", {"k": 10, "mode": "hybrid", "wave": "2025-Q4", "market": "DE"})
    # Question 1: hit at rank 2 (RR 0.5, nDCG 1/log2(3) = 0.630930); question 2: nothing.
    assert scores.recall_at_5 == 0.5 and scores.mrr == 0.25
    assert scores.ndcg_at_10 == pytest.approx(0.315465, abs=1e-6)
    assert scores.misses == ["nothing fits"]
    table = format_table({"hybrid": scores})
    assert "recall@5" in table.splitlines()[0] and "hybrid      2     0.500   0.250" in table


def test_load_questions_reads_and_validates(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        '- question: "why did it fall"\n'
        "  filters: {wave: 2025-Q4}\n"
        "  gold:\n"
        '    - {source: wave_reports/2025-Q4.md, section: "Executive summary"}\n'
    )
    [question] = load_questions([good])
    assert question == EvalQuestion("why did it fall", {"wave": "2025-Q4"},
                                    (GoldSection("wave_reports/2025-Q4.md", "Executive summary"),),
                                    "good.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text('- question: "x"\n  filters: {colour: red}\n  gold: [{source: a, section: b}]\n')
    with pytest.raises(ValueError, match=r"bad\.yaml: entry 1: .*colour"):
        load_questions([bad])
    bad.write_text('- question: "x"\n  gold: []\n')
    with pytest.raises(ValueError, match="no gold section"):
        load_questions([bad])
