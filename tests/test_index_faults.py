"""Faults in the document index: `cxassist index build` killed at random moments, and corrupt
index files at start-up. The index must never be left unusable, and a broken one must be
reported as such, naming the file and the way out, without a traceback."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from index.build import LOCK_FILE, build_index
from index.chroma_client import CHROMA_SQLITE
from index.embeddings import SentenceEmbeddings
from index.errors import CxIndexError, IndexCorruptError
from index.retrieval import Retriever
from index.store import CURRENT_FILE, MANIFEST_FILE, VERSIONS_DIR
from tests.index_fixtures import ROOT, index_snapshot, index_versions

CXASSIST = [sys.executable, "-m", "assistant.cli"]
FIXTURE_DOCS = ROOT / "tests" / "fixtures" / "docs"
KILLS = 20
ADDENDUM = "Zephyrine audit"  # words found nowhere else in the corpus
ADDENDUM_TEXT = "The 2026 re-weighting check of this wave's fieldwork changed no published figure."
ADDENDUM_QUERY = f"{ADDENDUM}: re-weighting check of the 2026 fieldwork"
# An unchanged report, an unchanged note, the addendum and the reworded note.
SAMPLE_QUERIES = [
    "why did cardiovex drop in germany in q4 2025",
    "how is the standard error of NPS computed",
    ADDENDUM_QUERY,
    "which channels reach physicians most often",
]


def _cli_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("CXASSIST_CHROMA_HOST", None)  # always the local index under test
    return env


def _build_cmd(docs: Path, index_dir: Path, *extra: str) -> list[str]:
    return [*CXASSIST, "index", "build", "--docs", str(docs), "--index-dir", str(index_dir),
            *extra]


def _current(index_dir: Path) -> str:
    return (index_dir / CURRENT_FILE).read_text().strip()


def _copy_index(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(LOCK_FILE))
    return target


def _edit_corpus(docs: Path) -> None:
    """A change with some embedding work (about 30 chunks, a few seconds): a methodology note
    reworded throughout and a new section in one wave report."""
    note = docs / "methodology" / "channels_and_roles.md"
    note.write_text(re.sub(r"\bHCPs?\b", "physicians", note.read_text(encoding="utf-8")),
                    encoding="utf-8")
    report = docs / "wave_reports" / "2025-Q4.md"
    addendum = f"\n\n## {ADDENDUM}\n\n{ADDENDUM_TEXT}\n"
    report.write_text(report.read_text(encoding="utf-8") + addendum, encoding="utf-8")


@pytest.mark.slow
def test_random_kills_of_index_build_leave_the_previous_index_usable(
    sample_index: Path, sample_docs: Path, embedder: SentenceEmbeddings, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(sample_docs, docs)
    _edit_corpus(docs)
    pristine = _copy_index(sample_index, tmp_path / "pristine")
    before = index_snapshot(pristine, embedder, SAMPLE_QUERIES)
    # One complete build of the edited corpus: the state every finished build must reach, and
    # its duration, over which the kills are spread.
    reference = _copy_index(pristine, tmp_path / "reference")
    started = time.perf_counter()
    subprocess.run(_build_cmd(docs, reference), env=_cli_env(), cwd=ROOT, check=True,
                   capture_output=True)
    duration = time.perf_counter() - started
    after = index_snapshot(reference, embedder, SAMPLE_QUERIES)
    addendum_hybrid = after[SAMPLE_QUERIES.index(ADDENDUM_QUERY) * 3 + 2]
    assert after != before and addendum_hybrid[0][1] == ADDENDUM_TEXT

    index_dir = _copy_index(pristine, tmp_path / "index")
    baseline = _current(index_dir)
    rng = random.Random(20260)
    outcomes: Counter[str] = Counter()
    for i in range(KILLS):
        existing = set(index_versions(index_dir))
        child = subprocess.Popen(_build_cmd(docs, index_dir), env=_cli_env(), cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(duration * (i + rng.random()) / KILLS)  # one kill per slice of the build
        child.kill()
        child.wait(timeout=60)
        if _current(index_dir) == baseline:
            assert index_snapshot(index_dir, embedder, SAMPLE_QUERIES) == before, f"kill {i}"
            started_writing = set(index_versions(index_dir)) - existing
            outcomes["killed while writing" if started_writing else "killed before writing"] += 1
        else:  # killed after the switch: the new version is complete
            assert index_snapshot(index_dir, embedder, SAMPLE_QUERIES) == after, f"kill {i}"
            outcomes["finished"] += 1
            shutil.rmtree(index_dir)
            _copy_index(pristine, index_dir)
    print(f"\n{KILLS} kills over a {duration:.1f} s build: {dict(outcomes)}")
    assert outcomes["killed while writing"] >= 3, outcomes

    subprocess.run(_build_cmd(docs, index_dir), env=_cli_env(), cwd=ROOT, check=True,
                   capture_output=True)
    assert index_snapshot(index_dir, embedder, SAMPLE_QUERIES) == after
    assert len(index_versions(index_dir)) <= 2  # killed builds' leftovers are pruned
    assert not list(index_dir.glob(".*.tmp"))


# ---------------------------------------------------------------- corrupt index at start-up


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory, embedder: SentenceEmbeddings) -> Path:
    index_dir = tmp_path_factory.mktemp("small-index") / "index"
    build_index([FIXTURE_DOCS], index_dir, embedder=embedder, progress=False)
    return index_dir


def _overwrite(path: Path, offset: int, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(random.Random(7).randbytes(size))


def _sqlite_header(vdir: Path) -> Path:
    _overwrite(vdir / CHROMA_SQLITE, 0, 4096)
    return vdir / CHROMA_SQLITE


def _sqlite_pages(vdir: Path) -> Path:
    db = vdir / CHROMA_SQLITE
    _overwrite(db, db.stat().st_size // 3, db.stat().st_size // 3)
    return db


def _sqlite_missing(vdir: Path) -> Path:
    (vdir / CHROMA_SQLITE).unlink()
    return vdir / CHROMA_SQLITE


def _manifest_garbage(vdir: Path) -> Path:
    (vdir / MANIFEST_FILE).write_text('{"version": "v1", "files": [')
    return vdir / MANIFEST_FILE


def _pointer_garbage(vdir: Path) -> Path:
    pointer = vdir.parent.parent / CURRENT_FILE
    pointer.write_bytes(b"\xff\xfe\x00\x9c garbage")
    return pointer


def _pointer_to_nowhere(vdir: Path) -> Path:
    pointer = vdir.parent.parent / CURRENT_FILE
    pointer.write_text("v999999-abcdef\n")
    return pointer


CORRUPTIONS: dict[str, Callable[[Path], Path]] = {
    "sqlite header": _sqlite_header,
    "sqlite pages": _sqlite_pages,
    "sqlite missing": _sqlite_missing,
    "manifest garbage": _manifest_garbage,
    "pointer garbage": _pointer_garbage,
    "pointer to a missing version": _pointer_to_nowhere,
}


def _corrupt_copy(small_index: Path, target: Path, corruption: str) -> tuple[Path, Path]:
    index_dir = _copy_index(small_index, target)
    damaged = CORRUPTIONS[corruption](index_dir / VERSIONS_DIR / _current(index_dir))
    return index_dir, damaged


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_corrupt_index_is_reported_with_the_file_and_the_cure(
    small_index: Path, embedder: SentenceEmbeddings, tmp_path: Path, corruption: str
) -> None:
    index_dir, damaged = _corrupt_copy(small_index, tmp_path / "index", corruption)
    with pytest.raises(IndexCorruptError) as err:
        Retriever(index_dir, embedder=embedder)
    assert isinstance(err.value, CxIndexError)
    message = str(err.value)
    assert str(damaged) in message and "cxassist index build --rebuild" in message
    if corruption == "sqlite missing":  # opening must not create a fresh, empty store
        assert not damaged.exists()

    cli = subprocess.run(_build_cmd(FIXTURE_DOCS, index_dir), env=_cli_env(), cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert cli.returncode == 2, cli.stderr
    assert str(damaged) in cli.stderr and "cxassist index build --rebuild" in cli.stderr
    assert "Traceback" not in cli.stderr and "panicked" not in cli.stderr, cli.stderr


@pytest.mark.slow
def test_rebuild_repairs_a_corrupt_index(
    small_index: Path, embedder: SentenceEmbeddings, tmp_path: Path
) -> None:
    queries = ["How is the standard error of NPS computed?", "advisory board kidney function"]
    expected = index_snapshot(small_index, embedder, queries)
    index_dir, _ = _corrupt_copy(small_index, tmp_path / "index", "pointer garbage")
    _sqlite_pages(index_dir / VERSIONS_DIR / sorted(index_versions(index_dir))[0])
    cli = subprocess.run(_build_cmd(FIXTURE_DOCS, index_dir, "--rebuild"), env=_cli_env(),
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert index_snapshot(index_dir, embedder, queries) == expected
    assert len(index_versions(index_dir)) == 1  # the damaged version is gone
