"""Incremental and atomic index builds.

The build logic does not depend on which model embeds, so these tests use a deterministic
bag-of-words hashing embedder: builds take a fraction of a second and the SIGKILL test can run
its builds in fresh subprocesses without paying for a torch import each time.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from index.bm25 import tokenize
from index.build import LOCK_FILE, build_index
from index.config import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE
from index.embeddings import SentenceEmbeddings
from index.errors import CorpusError, IndexBusyError, IndexCorruptError, IndexNotBuiltError
from index.retrieval import Retriever
from index.store import CURRENT_FILE, MANIFEST_FILE, VERSIONS_DIR
from tests.index_fixtures import index_snapshot
from tests.index_fixtures import index_versions as versions

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FIXTURE_DOCS = TESTS / "fixtures" / "docs"
QUERIES = [
    "how is the NPS standard error computed",
    "why did Cardiovex fall in Germany",
    "minimum base size suppressed",
    "advisory board kidney function",
    "MSL impact Oncelis France",
]


class HashEmbeddings(SentenceEmbeddings):
    """Hashed bag-of-words vectors: deterministic, instant, good enough to rank fixtures."""

    def __init__(self, *, delay: float = 0.0, fail_after_batches: int | None = None) -> None:
        super().__init__(model_name="test-hash-256", batch_size=4)
        self.delay = delay
        self.fail_after_batches = fail_after_batches
        self.embedded: list[str] = []

    def warm(self) -> None:
        pass

    def embed_array(
        self, texts: Sequence[str], *, on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), 256), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            if self.fail_after_batches is not None and start // self.batch_size >= (
                self.fail_after_batches
            ):
                raise RuntimeError("embedder failed mid-build (test)")
            time.sleep(self.delay)
            for i in range(start, min(start + self.batch_size, len(texts))):
                for token in tokenize(texts[i]):
                    h = int.from_bytes(hashlib.md5(token.encode()).digest()[:4], "little")
                    out[i, h % 256] += 1.0 if h & 1 << 31 else -1.0
                out[i] /= max(float(np.linalg.norm(out[i])), 1e-9)
                self.embedded.append(texts[i])
            if on_batch is not None:
                on_batch(min(self.batch_size, len(texts) - start))
        return out


def snapshot(index_dir: Path, embedder: SentenceEmbeddings) -> list[list[tuple[str, str]]]:
    return index_snapshot(index_dir, embedder, QUERIES)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(FIXTURE_DOCS, target)
    return target


@pytest.fixture
def embedder() -> HashEmbeddings:
    return HashEmbeddings()


def test_first_build_then_noop(docs: Path, tmp_path: Path, embedder: HashEmbeddings) -> None:
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    assert (first.files_added, first.files_updated, first.files_removed) == (8, 0, 0)
    assert first.chunks_embedded == first.chunks_total == len(embedder.embedded) > 15
    assert (index_dir / ".complete").read_text().strip() == first.version
    assert (index_dir / CURRENT_FILE).read_text().strip() == first.version
    manifest = json.loads((index_dir / VERSIONS_DIR / first.version / MANIFEST_FILE).read_text())
    assert set(manifest["files"]) >= {"methodology/kpi_definitions.md", "user/field_notes.txt"}
    assert (manifest["chunk_size"], manifest["chunk_overlap"]) == (
        DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_OVERLAP)

    second = build_index([docs], index_dir, embedder=embedder, progress=False)
    assert second.chunks_embedded == 0 and second.files_unchanged == 8
    assert second.version == first.version and second.chunks_total == first.chunks_total


def test_modified_file_only_reembeds_its_changed_chunks(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    report_path = docs / "wave_reports" / "2025-Q4_CARD_DE.md"
    report_path.write_text(report_path.read_text().replace(
        "quickest lever for Cardiovex.", "quickest lever for Cardiovex; samples logistics too."))
    embedder.embedded.clear()
    second = build_index([docs], index_dir, embedder=embedder, progress=False)
    assert (second.files_updated, second.files_unchanged, second.files_added) == (1, 7, 0)
    assert second.chunks_embedded == 1 == len(embedder.embedded)  # only the Outlook section
    assert "samples logistics too" in embedder.embedded[0]
    assert second.chunks_reused >= 3  # the report's other sections kept their vectors
    assert second.chunks_total == first.chunks_total and second.version != first.version
    hits = Retriever(index_dir, embedder=embedder).search("samples logistics too", k=1,
                                                          mode="bm25")
    assert hits[0].source == "wave_reports/2025-Q4_CARD_DE.md"


def test_added_and_removed_files(docs: Path, tmp_path: Path, embedder: HashEmbeddings) -> None:
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    removed_chunks = len(Retriever(index_dir, embedder=embedder).search(
        "Lunavia Oncelis Pulmatrex France", k=50, mode="bm25", market="FR"))
    (docs / "wave_reports" / "2025-Q4_ONC_FR.md").unlink()
    (docs / "user" / "new_note.txt").write_text("Dermavance launch note\n\nUK launch went well.")
    report = build_index([docs], index_dir, embedder=embedder, progress=False)
    assert (report.files_added, report.files_removed, report.files_unchanged) == (1, 1, 7)
    assert report.chunks_total == first.chunks_total - removed_chunks + 1
    retriever = Retriever(index_dir, embedder=embedder)
    assert retriever.count() == report.chunks_total
    assert retriever.search("Lunavia portal", k=5, mode="bm25", market="FR") == []
    assert all(p.source != "wave_reports/2025-Q4_ONC_FR.md"
               for p in retriever.search("Lunavia Oncelis", k=20, mode="hybrid"))
    assert retriever.search("Dermavance launch", k=1)[0].source == "user/new_note.txt"


def test_changed_chunking_settings_rechunk_everything(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    smaller = build_index([docs], index_dir, embedder=embedder, progress=False,
                          chunk_size=300, chunk_overlap=50)
    assert smaller.files_updated == 8 and smaller.files_unchanged == 0
    assert smaller.chunks_total > first.chunks_total
    assert Retriever(index_dir, embedder=embedder).describe()["chunk_size"] == 300


def test_changed_chunker_code_rechunks_everything_and_reuses_vectors(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit to the chunker's code (its fingerprint) re-chunks every file on the next
    build; chunks whose text did not change keep their vectors instead of being re-embedded."""
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    monkeypatch.setattr("index.build.chunker_fingerprint", lambda: "edited-chunker")
    again = build_index([docs], index_dir, embedder=embedder, progress=False)
    assert again.files_updated == first.files_added and again.files_unchanged == 0
    assert again.chunks_embedded == 0 and again.chunks_reused == first.chunks_total
    assert build_index([docs], index_dir, embedder=embedder, progress=False).version == \
        again.version  # recorded: the next build is a no-op


def test_failed_embedding_keeps_previous_index(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    before = snapshot(index_dir, embedder)
    for path in docs.rglob("*.md"):  # every file changes, so the build has real work to do
        path.write_text(path.read_text() + "\n\nAppendix: revised in 2026.\n")
    with pytest.raises(RuntimeError, match="mid-build"):
        build_index([docs], index_dir, embedder=HashEmbeddings(fail_after_batches=1),
                    progress=False)
    assert (index_dir / CURRENT_FILE).read_text().strip() == first.version
    assert versions(index_dir) == [first.version]  # the partial version was discarded
    assert snapshot(index_dir, embedder) == before
    retry = build_index([docs], index_dir, embedder=embedder, progress=False)
    assert retry.files_updated == 6 and retry.version != first.version


def test_bad_input_fails_before_writing(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    index_dir = tmp_path / "index"
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    before = snapshot(index_dir, embedder)
    (docs / "user" / "broken.pdf").write_bytes(b"%PDF-1.4\n garbage")
    with pytest.raises(CorpusError, match=r"broken\.pdf.*cannot read PDF"):
        build_index([docs], index_dir, embedder=embedder, progress=False)
    (docs / "user" / "broken.pdf").unlink()
    bad = docs / "wave_reports" / "2025-Q4_CARD_DE.md"
    bad.write_text(bad.read_text().replace("wave: 2025-Q4", "wave: fourth quarter"))
    with pytest.raises(CorpusError, match=r"2025-Q4_CARD_DE\.md.*wave"):
        build_index([docs], index_dir, embedder=embedder, progress=False)
    assert versions(index_dir) == [first.version]
    assert snapshot(index_dir, embedder) == before
    with pytest.raises(CorpusError, match="no documents"):
        build_index([tmp_path / "index"], tmp_path / "other", embedder=embedder, progress=False)


def test_missing_and_corrupt_index_errors(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    index_dir = tmp_path / "index"
    with pytest.raises(IndexNotBuiltError, match=r"no index at .*run `cxassist index build`"):
        Retriever(index_dir, embedder=embedder)
    first = build_index([docs], index_dir, embedder=embedder, progress=False)
    (index_dir / VERSIONS_DIR / first.version / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(IndexCorruptError, match="cxassist index build --rebuild"):
        Retriever(index_dir, embedder=embedder)
    with pytest.raises(IndexCorruptError):  # a plain build refuses to guess
        build_index([docs], index_dir, embedder=embedder, progress=False)
    rebuilt = build_index([docs], index_dir, embedder=embedder, progress=False, rebuild=True)
    assert rebuilt.chunks_embedded == rebuilt.chunks_total == first.chunks_total
    assert Retriever(index_dir, embedder=embedder).count() == first.chunks_total
    (index_dir / CURRENT_FILE).write_text("v999999-abcdef\n")
    with pytest.raises(IndexCorruptError, match="missing version"):
        Retriever(index_dir, embedder=embedder)


def test_old_versions_are_pruned_but_previous_kept(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    index_dir = tmp_path / "index"
    built = []
    for i in range(3):
        (docs / "user" / "counter.txt").write_text(f"Counter\n\nbuild number {i}")
        built.append(build_index([docs], index_dir, embedder=embedder, progress=False).version)
    assert versions(index_dir) == sorted(built[1:])
    old = Retriever(index_dir, embedder=embedder)  # opened on built[2]
    (docs / "user" / "counter.txt").write_text("Counter\n\nbuild number 3")
    build_index([docs], index_dir, embedder=embedder, progress=False, rebuild=True)
    assert old.is_stale() and old.search("counter build number", k=1, mode="dense")
    assert old.refresh() and "number 3" in old.search("counter build", k=1)[0].text


def test_concurrent_build_is_refused(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    import fcntl

    index_dir = tmp_path / "index"
    index_dir.mkdir()
    with open(index_dir / LOCK_FILE, "w") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        with pytest.raises(IndexBusyError, match="another"):
            build_index([docs], index_dir, embedder=embedder, progress=False)


_CHILD = """
import sys
sys.path.insert(0, {tests!r})
import index.build
from test_index_build import HashEmbeddings

begin = index.build.begin_version


def announced_begin(location):
    print("writing", flush=True)  # tells the parent the new version is being written now
    return begin(location)


index.build.begin_version = announced_begin
index.build.build_index([{docs!r}], {index!r}, embedder=HashEmbeddings(delay=0.5),
                        progress=False)
"""


@pytest.mark.slow
def test_sigkill_during_build_leaves_a_usable_index(
    docs: Path, tmp_path: Path, embedder: HashEmbeddings
) -> None:
    """SIGKILL builds while they write; the index must always open on a complete version."""
    index_dir = tmp_path / "index"
    baseline = build_index([docs], index_dir, embedder=embedder, progress=False).version
    before = snapshot(index_dir, embedder)
    # The state a completed build of the edited corpus gives, built elsewhere.
    edited = tmp_path / "edited"
    shutil.copytree(docs, edited)
    for path in edited.rglob("*.md"):
        path.write_text(path.read_text() + "\n\nAddendum: figures re-checked in 2026.\n")
    build_index([edited], tmp_path / "reference", embedder=embedder, progress=False)
    after = snapshot(tmp_path / "reference", embedder)

    rng = random.Random(1234)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    script = _CHILD.format(tests=str(TESTS), docs=str(edited), index=str(index_dir))
    outcomes = []
    for _ in range(5):
        existing = set(versions(index_dir))
        child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert child.stdout is not None
        if child.stdout.readline().strip() != "writing":
            child.kill()
            pytest.fail(f"build subprocess failed: {child.communicate()[1]}")
        # Writing the new version takes over 1 s (two slow embedding batches, then the
        # switch), so most kills land mid-write; a late one may land after the switch.
        time.sleep(rng.uniform(0.1, 1.1))
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
        current = (index_dir / CURRENT_FILE).read_text().strip()
        if current == baseline:
            assert snapshot(index_dir, embedder) == before
            partial = set(versions(index_dir)) - existing
            outcomes.append("killed while writing" if partial else "killed before writing")
        else:  # the kill came after the switch: the new version must be complete
            assert snapshot(index_dir, embedder) == after
            outcomes.append("finished")
            baseline = build_index([docs], index_dir, embedder=embedder, progress=False).version
            assert snapshot(index_dir, embedder) == before
    assert outcomes.count("killed while writing") >= 2, outcomes
    final = build_index([edited], index_dir, embedder=embedder, progress=False)
    assert snapshot(index_dir, embedder) == after
    assert final.version in versions(index_dir) and len(versions(index_dir)) <= 2  # pruned
