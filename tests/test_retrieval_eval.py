"""Retrieval quality on the labelled set (tests/retrieval_eval/*.yaml) over the sample index,
read locally (PersistentClient) and through a real Chroma server (`chroma run`, HttpClient).

Each question names its gold section(s); BM25, dense and hybrid search are scored with
recall@5, MRR and nDCG@10 (definitions in `index.evaluation`). The tables are printed; run
with `pytest -s tests/test_retrieval_eval.py` to see them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from index.chunking import document_sections
from index.corpus import find_sources, load_document
from index.evaluation import (
    EvalQuestion,
    GoldSection,
    ModeScores,
    evaluate,
    format_table,
    load_questions,
)
from index.retrieval import Passage, Retriever

EVAL_SETS = sorted((Path(__file__).resolve().parent / "retrieval_eval").glob("*.yaml"))
MODES = ("bm25", "dense", "hybrid")
HYBRID_RECALL_AT_5 = 0.90


@pytest.fixture(scope="module")
def questions() -> list[EvalQuestion]:
    return load_questions(EVAL_SETS)


@pytest.fixture(scope="module", params=["local", "server"])
def retriever(request: pytest.FixtureRequest, sample_docs: Path,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[Retriever]:
    """The sample index as users read it: the local store, or the same corpus built into a
    Chroma server through `cxassist index build`'s code path (HttpClient)."""
    if request.param == "local":
        yield request.getfixturevalue("sample_retriever")
        return
    from index.build import build_index

    host, port = request.getfixturevalue("server")
    embedder = request.getfixturevalue("embedder")
    lock_dir = tmp_path_factory.mktemp("server-eval")
    build_index([sample_docs], lock_dir, host=host, port=port, embedder=embedder,
                progress=False)
    served = Retriever(lock_dir, host=host, port=port, embedder=embedder)
    assert served.describe()["mode"] == "server"
    yield served
    served.close()


@pytest.fixture(scope="module")
def scores(retriever: Retriever, questions: list[EvalQuestion]) -> dict[str, ModeScores]:
    return evaluate(retriever, questions, MODES)


def test_labelled_set_is_large_and_points_at_real_sections(
    questions: list[EvalQuestion], sample_docs: Path
) -> None:
    assert len(questions) >= 80
    assert len({q.question for q in questions}) == len(questions), "duplicate questions"
    corpus = {
        GoldSection(src.source, section.path[-1])
        for src in find_sources([sample_docs])
        for section in document_sections(load_document(src))
        if section.path
    }
    unknown = [(q.question, g) for q in questions for g in q.gold if g not in corpus]
    assert not unknown, unknown
    filtered = {key for q in questions for key in q.filters}
    assert {"wave", "market", "brand"} <= filtered
    assert {g.source.split("/")[0] for q in questions for g in q.gold} == {
        "methodology", "wave_reports"}


def _matches(passage: Passage, filters: dict[str, str]) -> bool:
    checks = {
        "doc_type": lambda v: passage.doc_type == v,
        "wave": lambda v: (passage.wave or "").upper() == v.upper(),
        "market": lambda v: v.upper() in passage.markets,
        "brand": lambda v: v.lower() in passage.brands,
        "therapy_area": lambda v: v.upper() in passage.therapy_areas,
    }
    return all(checks[key](value) for key, value in filters.items())


@pytest.mark.parametrize("mode", MODES)
def test_filtered_questions_only_get_passages_that_pass_the_filters(
    retriever: Retriever, questions: list[EvalQuestion], mode: str
) -> None:
    filtered = [q for q in questions if q.filters]
    assert len(filtered) >= 10
    for q in filtered:
        passages = retriever.search(q.question, k=10, mode=mode, **q.filters)
        assert passages, q.question
        wrong = [p.citation() for p in passages if not _matches(p, dict(q.filters))]
        assert not wrong, (q.question, q.filters, wrong)


def test_scores_per_mode(request: pytest.FixtureRequest, scores: dict[str, ModeScores]) -> None:
    where = request.node.callspec.params["retriever"]
    print(f"\nretrieval evaluation on the sample index ({where})\n" + format_table(scores))
    for mode in MODES:
        misses = scores[mode].misses
        print(f"{mode}: {len(misses)} questions without a gold section in the top 5")
    hybrid, bm25, dense = scores["hybrid"], scores["bm25"], scores["dense"]
    assert hybrid.recall_at_5 >= HYBRID_RECALL_AT_5, hybrid.misses
    assert hybrid.recall_at_5 >= max(bm25.recall_at_5, dense.recall_at_5)
    assert hybrid.mrr >= max(bm25.mrr, dense.mrr)
    assert hybrid.ndcg_at_10 >= max(bm25.ndcg_at_10, dense.ndcg_at_10)
