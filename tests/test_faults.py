"""Faults: kills, full disks, unwritable folders, corrupt files and runaway queries leave
data intact and give a clear message, never a traceback."""

from __future__ import annotations

import errno
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from assistant.cli import main
from cxengine.ingest import ingest
from cxengine.store import QueryTimeout, Store, StoreError

CXASSIST = [sys.executable, "-m", "assistant.cli"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def old_db(sample_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "cx.duckdb"
    shutil.copy(sample_db, db)
    return db


@pytest.mark.slow
def test_twenty_random_kills_during_ingest_never_damage_the_database(sample_dir: Path,
                                                                     old_db: Path) -> None:
    before = _digest(old_db)
    rng = random.Random(2026)
    completed = 0
    for _ in range(20):
        proc = subprocess.Popen([*CXASSIST, "data", "ingest", str(sample_dir), "--db",
                                 str(old_db)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 4.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        else:
            completed += 1  # finished first: the new database replaced the old one whole
        proc.wait()
        with duckdb.connect(str(old_db), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM brand_ratings").fetchone()[0] > 0
        if not completed:
            assert _digest(old_db) == before
    ingest(sample_dir, old_db)  # the next ingest clears what killed builds left behind
    assert not [p for p in old_db.parent.iterdir() if ".tmp" in p.name]
    Store(old_db).close()


def test_full_disk_gives_a_clear_message_and_changes_nothing(sample_dir: Path, old_db: Path,
                                                             monkeypatch) -> None:
    before = _digest(old_db)

    def no_space(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    result = CliRunner().invoke(main, ["data", "ingest", str(sample_dir), "--db", str(old_db)])
    assert result.exit_code == 1
    assert "cannot write the database" in result.output and "No space left" in result.output
    assert "Traceback" not in result.output
    assert _digest(old_db) == before
    assert not [p for p in old_db.parent.iterdir() if p.name.endswith(".tmp")]


def test_unusable_data_folder_gives_a_clear_message(sample_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["data", "ingest", str(sample_dir), "--db",
                                       str(blocker / "cx.duckdb")])
    assert result.exit_code == 1 and "cannot write the database" in result.output


def test_corrupt_database_says_how_to_rebuild(tmp_path: Path) -> None:
    bad = tmp_path / "cx.duckdb"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="rebuild it with `cxassist data build`"):
        Store(bad)
    result = CliRunner().invoke(main, ["data", "info", "--db", str(bad)])
    assert result.exit_code == 1 and "cxassist data build" in result.output
    with pytest.raises(StoreError, match="no database at"):
        Store(tmp_path / "missing.duckdb")


def test_runaway_query_is_stopped_with_a_message(sample_db: Path) -> None:
    store = Store(sample_db, timeout_s=0.3)
    try:
        started = time.perf_counter()
        with pytest.raises(QueryTimeout, match="ran longer than 0.3 s"):
            store.query("SELECT count(*) FROM range(100000000000) a, range(10) b "
                        "WHERE a.range % 7 = b.range")
        assert time.perf_counter() - started < 5
        assert store.rows("SELECT 1 AS one")[0]["one"] == 1  # the store stays usable
    finally:
        store.close()


def test_ingest_into_a_new_folder_creates_it(sample_dir: Path, tmp_path: Path) -> None:
    report = ingest(sample_dir, tmp_path / "a" / "b" / "cx.duckdb")
    assert Path(report.db).exists()
