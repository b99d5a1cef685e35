"""Retrieval over an index of the fixture corpus built with the real embedding model."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index.build import BuildReport, build_index
from index.embeddings import SentenceEmbeddings
from index.retrieval import Passage, Retriever, reciprocal_rank_fusion

FIXTURE_DOCS = Path(__file__).resolve().parent / "fixtures" / "docs"
SE_SECTION = "KPI definitions > Net Promoter Score (`nps`) > Standard error and confidence interval"
BASE_SECTION = "Significance testing and base sizes > Minimum base rules"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceEmbeddings) -> tuple[
    Path, BuildReport
]:
    index_dir = tmp_path_factory.mktemp("retrieval") / "index"
    return index_dir, build_index([FIXTURE_DOCS], index_dir, embedder=embedder, progress=False)


@pytest.fixture(scope="module")
def retriever(built: tuple[Path, BuildReport], embedder: SentenceEmbeddings) -> Retriever:
    return Retriever(built[0], embedder=embedder)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
@pytest.mark.parametrize(
    ("query", "source", "section"),
    [
        ("How is the standard error of NPS computed?", "methodology/kpi_definitions.md",
         SE_SECTION),
        ("minimum base size: when is a value suppressed?", "methodology/statistics.md",
         BASE_SECTION),
        ("advisory board on kidney function", "user/advisory_board_summary.pdf", "page 1"),
        ("Shapley value: R squared gain over all subsets of predictors",
         "methodology/key_driver_analysis.md", "Key driver analysis > Method"),
    ],
)
def test_clear_queries_find_the_right_section_first(
    retriever: Retriever, mode: str, query: str, source: str, section: str
) -> None:
    top = retriever.search(query, k=3, mode=mode)  # type: ignore[arg-type]
    assert (top[0].source, top[0].section) == (source, section), [p.citation() for p in top]


def test_why_question_finds_the_wave_report_passage(retriever: Retriever) -> None:
    top = retriever.search("Why did Cardiovex's NPS fall in Germany in 2025-Q4?", k=3)
    assert top[0].source == "wave_reports/2025-Q4_CARD_DE.md"
    assert "Cardiology Germany, wave 2025-Q4 > Cardiovex" in [p.section for p in top]
    codes = retriever.search("f2f_rep reach driver:ease", k=1, mode="bm25")
    assert codes[0].section == "Cardiology Germany, wave 2025-Q4 > Cardiovex"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_filters_restrict_results(retriever: Retriever, mode: str) -> None:
    def search(**filters: object) -> list[Passage]:
        return retriever.search("NPS of the brand and channel impact", k=20, mode=mode,
                                **filters)  # type: ignore[arg-type]

    fr = search(market="FR")
    assert fr and all(p.markets == ("FR",) for p in fr)
    q2 = search(wave="2025-q2")
    assert q2 and all(p.wave == "2025-Q2" for p in q2)
    oncelis = search(brand="Oncelis")
    assert oncelis and all("oncelis" in p.brands for p in oncelis)
    card_reports = search(doc_type="wave_report", therapy_area="CARD")
    assert {p.source for p in card_reports} == {
        "wave_reports/2025-Q2_CARD_DE.md", "wave_reports/2025-Q4_CARD_DE.md"}
    methodology = search(doc_type="methodology")
    assert methodology and {p.doc_type for p in methodology} == {"methodology"}
    both = search(market=["FR", "DE"], wave="2025-Q4")
    assert {p.source for p in both} == {
        "wave_reports/2025-Q4_CARD_DE.md", "wave_reports/2025-Q4_ONC_FR.md"}
    assert search(market="ES") == []
    assert search(market="DE", therapy_area="ONC") == []


def test_hybrid_fuses_both_rankings(retriever: Retriever) -> None:
    query = "webinar series on titration"
    lexical = {p.chunk_id for p in retriever.search(query, k=20, mode="bm25")}
    dense = {p.chunk_id for p in retriever.search(query, k=20, mode="dense")}
    hybrid = retriever.search(query, k=5)
    assert {p.chunk_id for p in hybrid} <= lexical | dense
    assert all(a.score >= b.score for a, b in zip(hybrid, hybrid[1:], strict=False))
    assert reciprocal_rank_fusion([["a", "b"], ["b", "c"]])[0] == ("b", 1 / 62 + 1 / 61)


def test_passage_shape(retriever: Retriever) -> None:
    passage = retriever.search("Oncelis MSL team in France", k=1, market="FR")[0]
    assert passage.source == "wave_reports/2025-Q4_ONC_FR.md" and passage.wave == "2025-Q4"
    assert passage.markets == ("FR",) and passage.therapy_areas == ("ONC",)
    # A passage lists the report's brands it mentions, not every brand of the report.
    assert passage.brands == ("oncelis",) and "Oncelis" in passage.section
    assert passage.title == "Oncology France, wave 2025-Q4" and passage.doc_type == "wave_report"
    assert "MSL" in passage.text and not passage.text.startswith("Oncology France")
    data = json.loads(json.dumps(passage.to_dict()))
    assert data["markets"] == ["FR"] and data["chunk_id"] == passage.chunk_id
    assert passage.citation() == (
        "Oncology France, wave 2025-Q4 > Oncelis (wave_reports/2025-Q4_ONC_FR.md)")
    with pytest.raises(AttributeError):
        passage.score = 1.0  # type: ignore[misc]
    methodology = retriever.search("Kish effective base", k=1)[0]
    assert methodology.wave is None and methodology.markets == ()


def test_count_describe_and_edge_cases(
    retriever: Retriever, built: tuple[Path, BuildReport]
) -> None:
    report = built[1]
    assert retriever.count() == report.chunks_total
    info = retriever.describe()
    assert info["chunks"] == report.chunks_total and info["documents"] == 8
    assert info["version"] == report.version and info["mode"] == "local"
    assert info["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert retriever.search("   ") == [] and retriever.search("nps", k=0) == []
    assert len(retriever.search("nps", k=500)) <= retriever.count()
    with pytest.raises(ValueError, match="mode"):
        retriever.search("nps", mode="fuzzy")  # type: ignore[arg-type]


def test_concurrent_searches_match_sequential(retriever: Retriever) -> None:
    queries = ["NPS standard error", "webinar impact", "base too low", "Lunavia portal",
               "MSL video calls", "effective base Kish", "rep visits reach", "quadrant fix"]
    expected = {q: [p.chunk_id for p in retriever.search(q, k=4)] for q in queries}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda q: (q, [p.chunk_id for p in retriever.search(q, k=4)]),
                                queries * 3))
    assert all(ids == expected[q] for q, ids in results)


def test_second_retriever_is_cheap(built: tuple[Path, BuildReport]) -> None:
    started = time.perf_counter()
    other = Retriever(built[0])  # a fresh embedder object reuses the cached model
    other.search("NPS", k=1, mode="dense")
    assert time.perf_counter() - started < 5.0
    other.close()


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_a_section_is_represented_by_its_best_chunk(retriever: Retriever, mode: str) -> None:
    query = "Cardiovex Germany field force cut and the drop in ease and NPS"
    every_chunk = retriever.search(query, k=10, mode=mode,  # type: ignore[arg-type]
                                   distinct_sections=False)
    sections = [(p.source, p.section) for p in every_chunk]
    assert len(set(sections)) < len(sections)  # the long Cardiovex section has two chunks
    distinct = retriever.search(query, k=10, mode=mode)  # type: ignore[arg-type]
    keys = [(p.source, p.section) for p in distinct]
    assert len(set(keys)) == len(keys) and distinct[0] == every_chunk[0]
    best_chunk: dict[tuple[str, str], str] = {}
    for p in every_chunk:
        best_chunk.setdefault((p.source, p.section), p.chunk_id)
    assert all(best_chunk.get(key, p.chunk_id) == p.chunk_id for p, key in zip(
        distinct, keys, strict=True))
