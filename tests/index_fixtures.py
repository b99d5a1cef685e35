"""Fixtures and helpers for tests of the document index, made available to every test
module by an import in conftest.py.

The sample index is expensive (about 750 chunks to embed), so it is shared by the session: the
configured index ($CXASSIST_INDEX_DIR, else data/index) when it is a current build of the
sample corpus, else one private build. Tests only read it; copy it before changing anything.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from index.embeddings import SentenceEmbeddings
    from index.retrieval import Retriever

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DOCS = ROOT / "data" / "sample" / "docs"
REPORT_TEMPLATES = ROOT / "data" / "sample" / "reports"


@pytest.fixture(scope="session")
def embedder() -> SentenceEmbeddings:
    """The packaged all-MiniLM-L6-v2, loaded once; later instances share the cached model."""
    from index.embeddings import SentenceEmbeddings

    model = SentenceEmbeddings()
    model.warm()
    return model


@pytest.fixture(scope="session")
def sample_docs(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus: data/sample/docs once `make data` rendered its wave reports, else a
    private copy with the reports rendered from the sample database."""
    templates = sorted(REPORT_TEMPLATES.glob("*.md"))
    if all((SAMPLE_DOCS / "wave_reports" / t.name).exists() for t in templates):
        return SAMPLE_DOCS
    from cxengine.reports import render_reports

    docs = tmp_path_factory.mktemp("sample-docs") / "docs"
    shutil.copytree(SAMPLE_DOCS / "methodology", docs / "methodology")
    render_reports(REPORT_TEMPLATES, docs / "wave_reports", sample_db)
    return docs


def _index_is_current(index_dir: Path, docs: Path, model_name: str) -> bool:
    """Whether `index_dir` holds a build of exactly these files with the default settings."""
    from index.chunking import chunker_fingerprint
    from index.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
    from index.corpus import find_sources
    from index.errors import CxIndexError
    from index.store import IndexLocation, open_index

    try:
        opened = open_index(IndexLocation(index_dir))
    except CxIndexError:
        return False
    try:
        manifest = opened.manifest
        built = {source: entry.file_hash for source, entry in manifest.files.items()}
        return manifest.same_settings(
            embedding_model=model_name, chunk_size=DEFAULT_CHUNK_SIZE,
            chunk_overlap=DEFAULT_CHUNK_OVERLAP, chunker=chunker_fingerprint(),
        ) and built == {src.source: src.file_hash() for src in find_sources([docs])}
    finally:
        opened.close()


@pytest.fixture(scope="session")
def sample_index(
    sample_docs: Path, embedder: SentenceEmbeddings, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from index.build import build_index
    from index.config import IndexSettings

    configured = IndexSettings.from_env().index_dir
    configured = configured if configured.is_absolute() else ROOT / configured
    if _index_is_current(configured, sample_docs, embedder.model_name):
        return configured
    private = tmp_path_factory.mktemp("sample-index") / "index"
    build_index([sample_docs], private, embedder=embedder, progress=False)
    return private


@pytest.fixture(scope="session")
def sample_retriever(sample_index: Path, embedder: SentenceEmbeddings) -> Iterator[Retriever]:
    from index.retrieval import Retriever

    retriever = Retriever(sample_index, embedder=embedder)
    yield retriever
    retriever.close()


def index_snapshot(
    index_dir: Path, embedder: SentenceEmbeddings, queries: list[str]
) -> list[list[tuple[str, str]]]:
    """Top results per query and mode: the observable state of an index."""
    from index.retrieval import Retriever

    retriever = Retriever(index_dir, embedder=embedder)
    try:
        return [
            [(p.chunk_id, p.text) for p in retriever.search(q, k=4, mode=mode)]
            for q in queries
            for mode in ("bm25", "dense", "hybrid")
        ]
    finally:
        retriever.close()


def index_versions(index_dir: Path) -> list[str]:
    """Version directories of a local index, committed or left by a failed build."""
    from index.store import VERSIONS_DIR

    return sorted(p.name for p in (index_dir / VERSIONS_DIR).iterdir())
