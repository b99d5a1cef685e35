"""Faults: kills, full disks, unwritable folders, corrupt files and runaway queries leave
data intact and give a clear message, never a traceback."""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
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


KILLS = 20


@pytest.mark.slow
def test_twenty_random_kills_during_ingest_never_damage_the_database(sample_dir: Path,
                                                                     old_db: Path,
                                                                     tmp_path: Path) -> None:
    """SIGKILL `cxassist data ingest` at moments spread over a whole ingest: afterwards the
    database is the old file byte for byte, or (a kill after the swap) the complete new one,
    never anything in between."""
    pristine = tmp_path / "pristine.duckdb"
    shutil.copy(old_db, pristine)
    before = _digest(old_db)
    reference = tmp_path / "reference.duckdb"  # what a finished ingest gives, and how long
    started = time.perf_counter()
    subprocess.run([*CXASSIST, "data", "ingest", str(sample_dir), "--db", str(reference)],
                   check=True, capture_output=True)
    duration = time.perf_counter() - started
    finished = _state(reference)

    rng = random.Random(2026)
    outcomes: Counter[str] = Counter()
    for i in range(KILLS):
        proc = subprocess.Popen([*CXASSIST, "data", "ingest", str(sample_dir), "--db",
                                 str(old_db)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(duration * (i + rng.random()) / KILLS)  # one kill per slice of the ingest
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if _digest(old_db) == before:
            left = [p for p in old_db.parent.iterdir() if ".tmp" in p.name]
            outcomes["killed while writing" if left else "killed before writing"] += 1
            assert _state(old_db)[1]["brand_ratings"] > 0  # and it still serves
        else:  # killed after the swap: the new database must be whole
            assert _state(old_db) == finished
            outcomes["finished"] += 1
            shutil.copy(pristine, old_db)
    print(f"\n{KILLS} kills over a {duration:.1f} s ingest: {dict(outcomes)}")
    assert outcomes["killed while writing"] >= 3, outcomes
    ingest(sample_dir, old_db)  # the next ingest clears what killed builds left behind
    assert not [p for p in old_db.parent.iterdir() if ".tmp" in p.name]


def _state(db: Path) -> tuple[str, dict[str, int]]:
    """Dataset version and row counts, read the way the engine opens a database."""
    store = Store(db)
    try:
        tables = ("respondents", "brand_ratings", "channel_interactions", "content_exposure")
        return store.dataset_version, {
            t: store.rows(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}
    finally:
        store.close()


def _ingest_with_file_size_limit(source: Path, db: Path, limit: int
                                 ) -> subprocess.CompletedProcess[str]:
    """`cxassist data ingest` in a process that may write no file beyond `limit` bytes: what a
    full disk does to a write (EFBIG instead of ENOSPC), for real, without filling a disk."""
    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([*CXASSIST, "data", "ingest", str(source), "--db", str(db)],
                          preexec_fn=limit_file_size, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def sample_csv_dir(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample as CSV files, which ingest stages into the new database (Parquet it reads
    in place)."""
    out = tmp_path_factory.mktemp("sample_csv")
    with duckdb.connect() as con:
        for parquet in sample_dir.glob("*.parquet"):
            con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO "
                        f"'{out / parquet.with_suffix('.csv').name}' (HEADER)")
    return out


# The limit as a share of the old database: hit while the CSV input is staged, or (Parquet is
# read in place, not staged) while the typed tables are written.
@pytest.mark.parametrize(("fmt", "share"), [("csv", 0.05), ("parquet", 0.3)],
                         ids=["while-staging", "while-loading"])
def test_full_disk_gives_a_clear_message_and_changes_nothing(sample_dir: Path,
                                                             sample_csv_dir: Path, old_db: Path,
                                                             fmt: str, share: float) -> None:
    before = _digest(old_db)
    source = sample_csv_dir if fmt == "csv" else sample_dir
    result = _ingest_with_file_size_limit(source, old_db, int(old_db.stat().st_size * share))
    assert result.returncode == 1, result.stderr
    assert "cannot write the database (" in result.stderr and "File too large" in result.stderr
    assert "Traceback" not in result.stderr and "invalid input" not in result.stderr
    assert _digest(old_db) == before
    assert not [p for p in old_db.parent.iterdir() if ".tmp" in p.name]


@contextmanager
def _unwritable(folder: Path) -> Iterator[None]:
    """No file can be created in `folder`, for root too: root ignores permission bits but not
    the immutable attribute."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    if shutil.which("chattr") is None or subprocess.run(
            ["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("root on a filesystem without `chattr +i`: cannot make a folder unwritable")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_unwritable_data_folder_gives_a_clear_message_and_changes_nothing(sample_dir: Path,
                                                                          old_db: Path) -> None:
    before = _digest(old_db)
    with _unwritable(old_db.parent):
        with pytest.raises(OSError):  # the folder really is unwritable for this process
            (old_db.parent / "probe").touch()
        result = CliRunner().invoke(main, ["data", "ingest", str(sample_dir), "--db",
                                           str(old_db)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "cannot write the database (" in result.output
    assert f"{old_db} was not changed" in result.output
    assert _digest(old_db) == before
    assert not [p for p in old_db.parent.iterdir() if ".tmp" in p.name]


def test_unusable_data_folder_gives_a_clear_message(sample_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["data", "ingest", str(sample_dir), "--db",
                                       str(blocker / "cx.duckdb")])
    assert result.exit_code == 1 and "cannot write the database" in result.output
    assert "is not a folder" in result.output


def test_corrupt_database_says_how_to_rebuild(tmp_path: Path) -> None:
    bad = tmp_path / "cx.duckdb"
    bad.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="rebuild it with `cxassist data build`"):
        Store(bad)
    result = CliRunner().invoke(main, ["data", "info", "--db", str(bad)])
    assert result.exit_code == 1 and "cxassist data build" in result.output
    with pytest.raises(StoreError, match="no database at"):
        Store(tmp_path / "missing.duckdb")


@pytest.mark.parametrize("command", [["ask", "nps of cardiovex"], ["chat", "--json"]])
@pytest.mark.parametrize("state", ["missing", "corrupt"])
def test_ask_and_chat_without_a_usable_database_say_so_without_a_traceback(
        tmp_path: Path, command: list[str], state: str) -> None:
    db = tmp_path / "cx.duckdb"
    if state == "corrupt":
        db.write_bytes(os.urandom(4096))
    result = CliRunner().invoke(main, [*command, "--db", str(db)], input="nps of cardiovex\n")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert ("no database at" if state == "missing" else "cannot open") in result.output
    assert "cxassist data build" in result.output


def test_database_from_an_older_build_is_refused_with_a_reload_hint(sample_db: Path,
                                                                    tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    shutil.copyfile(sample_db, old)
    con = duckdb.connect(str(old))
    con.execute("UPDATE dataset_info SET value = '1' WHERE key = 'serving_layout'")
    con.close()
    with pytest.raises(StoreError, match="older version of cxassist.*cxassist data build"):
        Store(old)


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


def test_a_failed_data_build_replaces_nothing(old_db: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`cxassist data build` is all or nothing: a wave-report template the data cannot fill
    stops it before the database or the reports are replaced, and leaves no staged files."""
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "2025-Q4.md").write_text("NPS {{kpi:nps brand:nosuchbrand market:DE "
                                          "wave:2025-Q4}}\n", encoding="utf-8")
    reports = tmp_path / "docs" / "wave_reports"
    reports.mkdir(parents=True)
    (reports / "kept.md").write_text("the reports in place\n", encoding="utf-8")
    before = _digest(old_db)
    for name, value in {"CXASSIST_DB": old_db, "CXASSIST_SAMPLE_DIR": tmp_path / "files",
                        "CXASSIST_REPORT_TEMPLATES": templates,
                        "CXASSIST_DOCS": tmp_path / "docs"}.items():
        monkeypatch.setenv(name, str(value))
    result = CliRunner().invoke(main, ["data", "build"])
    assert result.exit_code == 1, result.output
    assert "wave reports not rendered, database not replaced" in result.output
    assert "Traceback" not in result.output
    assert _digest(old_db) == before
    assert [p.name for p in reports.iterdir()] == ["kept.md"]
    assert not [p for p in old_db.parent.iterdir() if ".tmp" in p.name]
    assert not [p for p in reports.parent.iterdir() if ".tmp" in p.name]
