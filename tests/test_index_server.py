"""The index through a Chroma server (`HttpClient`): build, incremental update, retrieval."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from index.build import BuildReport, build_index
from index.embeddings import SentenceEmbeddings
from index.errors import CxIndexError, IndexNotBuiltError
from index.retrieval import Mode, Retriever
from tests.servers import free_port

pytestmark = pytest.mark.slow

FIXTURE_DOCS = Path(__file__).resolve().parent / "fixtures" / "docs"


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbeddings:
    model = SentenceEmbeddings()
    model.warm()
    return model


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("server-docs") / "docs"
    shutil.copytree(FIXTURE_DOCS, target)
    return target


@dataclass(frozen=True)
class ServerIndex:
    host: str
    port: int
    lock_dir: Path
    report: BuildReport

    def retriever(self, embedder: SentenceEmbeddings) -> Retriever:
        return Retriever(self.lock_dir, host=self.host, port=self.port, embedder=embedder)


@pytest.fixture(scope="module")
def built(
    server: tuple[str, int], docs: Path, embedder: SentenceEmbeddings,
    tmp_path_factory: pytest.TempPathFactory,
) -> ServerIndex:
    host, port = server
    lock_dir = tmp_path_factory.mktemp("server-lock")
    report = build_index([docs], lock_dir, host=host, port=port, embedder=embedder,
                         progress=False)
    return ServerIndex(host, port, lock_dir, report)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
@pytest.mark.parametrize(
    ("query", "section"),
    [
        ("How is the standard error of NPS computed?",
         "KPI definitions > Net Promoter Score (`nps`) > Standard error and confidence interval"),
        ("minimum base size: when is a value suppressed?",
         "Significance testing and base sizes > Minimum base rules"),
        ("advisory board on kidney function", "page 1"),
    ],
)
def test_retrieval_through_server(
    built: ServerIndex, embedder: SentenceEmbeddings, mode: Mode, query: str, section: str
) -> None:
    retriever = built.retriever(embedder)
    assert retriever.describe()["mode"] == "server"
    assert retriever.count() == built.report.chunks_total
    assert retriever.search(query, k=3, mode=mode)[0].section == section
    fr = retriever.search("NPS and channel impact", k=20, mode=mode, market="FR")
    assert fr and all(p.markets == ("FR",) for p in fr)
    card = retriever.search("NPS", k=20, mode=mode, doc_type="wave_report",
                            therapy_area="CARD", wave="2025-Q4")
    assert {p.source for p in card} == {"wave_reports/2025-Q4_CARD_DE.md"}


def test_incremental_builds_and_pointer_switch(
    built: ServerIndex, docs: Path, embedder: SentenceEmbeddings
) -> None:
    import chromadb
    from chromadb.config import Settings

    def build() -> BuildReport:
        return build_index([docs], built.lock_dir, host=built.host, port=built.port,
                           embedder=embedder, progress=False)

    again = build()
    assert again.chunks_embedded == 0 and again.version == built.report.version
    reader = built.retriever(embedder)

    notes = docs / "user" / "field_notes.txt"
    notes.write_text(notes.read_text() + "\nDermavance samples arrived late in Hamburg.\n")
    updated = build()
    assert updated.files_updated == 1 and updated.chunks_embedded == 1
    assert reader.is_stale() and reader.refresh()
    assert reader.search("Dermavance samples Hamburg", k=1)[0].source == "user/field_notes.txt"

    (docs / "wave_reports" / "2025-Q4_ONC_FR.md").unlink()
    removed = build()
    assert removed.files_removed == 1
    reader.refresh()
    assert reader.search("Oncelis MSL", k=10, market="FR") == []

    client = chromadb.HttpClient(host=built.host, port=built.port,
                                 settings=Settings(anonymized_telemetry=False))
    names = sorted(c.name for c in client.list_collections())
    # The active version and the one it replaced (for open readers); older ones are pruned.
    expected = [f"cxassist_{removed.version}", f"cxassist_{updated.version}", "cxassist_pointer"]
    assert names == sorted(expected)


def test_server_errors(
    server: tuple[str, int], tmp_path: Path, embedder: SentenceEmbeddings
) -> None:
    host, port = server
    with pytest.raises(IndexNotBuiltError, match="run `cxassist index build`"):
        Retriever(tmp_path, host=host, port=port, embedder=embedder, collection_prefix="other")
    with pytest.raises(CxIndexError, match="cannot reach the Chroma server"):
        Retriever(tmp_path, host="127.0.0.1", port=free_port(), embedder=embedder)
