"""Shared fixtures: the sample benchmark files and database, built once per session, and a
private Chroma server per test module.

`make test` builds data/ first; when it is missing (a bare `pytest`), the
fixtures build a private copy so the tests never depend on hand-made state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

# The index fixtures (embedder, sample_docs, sample_index, sample_retriever), for every module.
from tests.index_fixtures import (  # noqa: F401
    embedder,
    sample_docs,
    sample_index,
    sample_retriever,
)
from tests.servers import ChromaServer, chroma_executable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_FILES = ROOT / "data" / "sample_files"
SAMPLE_DB = ROOT / "data" / "cx.duckdb"


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if (SAMPLE_FILES / ".complete").exists():
        return SAMPLE_FILES
    from cxengine.sample import generate_sample
    from cxengine.scenario import Scenario

    out = tmp_path_factory.mktemp("sample") / "files"
    generate_sample(out, scenario=Scenario.load(ROOT / "data/sample/scenario.yaml"))
    return out


@pytest.fixture(scope="session")
def sample_db(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if sample_dir == SAMPLE_FILES and SAMPLE_DB.exists():
        return SAMPLE_DB
    from cxengine.ingest import ingest

    db = tmp_path_factory.mktemp("db") / "cx.duckdb"
    ingest(sample_dir, db)
    return db


@pytest.fixture(scope="session")
def engine(sample_db: Path):
    from cxengine.engine import Engine

    e = Engine(sample_db)
    yield e
    e.close()


class RawSample:
    """The sample tables read straight from the files with pandas: the independent side
    against which engine numbers are checked."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict[str, pd.DataFrame] = {}

    def __getitem__(self, table: str) -> pd.DataFrame:
        if table not in self._cache:
            self._cache[table] = pd.read_parquet(self.folder / f"{table}.parquet")
        return self._cache[table]

    @property
    def ratings(self) -> pd.DataFrame:
        """brand_ratings with each rater's wave, market, TA, segment and weight."""
        if "_ratings" not in self._cache:
            self._cache["_ratings"] = self["brand_ratings"].merge(
                self["respondents"], on="respondent_id", how="inner")
        return self._cache["_ratings"]


@pytest.fixture(scope="session")
def raw(sample_dir: Path) -> RawSample:
    return RawSample(sample_dir)


def weighted_nps(df: pd.DataFrame) -> float:
    score = (df["recommend"] >= 9) * 100.0 - (df["recommend"] <= 6) * 100.0
    return float((score * df["weight"]).sum() / df["weight"].sum())


def weighted_mean(df: pd.DataFrame, col: str) -> float:
    d = df[df[col].notna()]
    return float((d[col] * d["weight"]).sum() / d["weight"].sum())



@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A private `chroma run` on 127.0.0.1 and a free port, as (host, port); one per module."""
    if chroma_executable() is None:
        pytest.skip("the `chroma` executable (from the chromadb package) is not installed")
    chroma = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    try:
        address = chroma.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield address
    finally:
        chroma.stop()
