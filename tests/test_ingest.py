"""Validated, atomic ingestion: every rule names file, row, column and value; nothing is lost."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from assistant.cli import main
from cxengine.ingest import IngestError, ingest
from tests.conftest import RawSample

CXASSIST = [sys.executable, "-m", "assistant.cli"]


@pytest.fixture(scope="session")
def small_csv(raw: RawSample, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small valid CSV dataset: Germany x cardiology, one full and one light wave."""
    out = tmp_path_factory.mktemp("small") / "csv"
    out.mkdir()
    resp = raw["respondents"].query(
        "market_id == 'DE' and ta_id == 'CARD' and wave_id in ('2025-Q2', '2025-Q3')")
    ids = set(resp["respondent_id"])
    for table in ("waves", "markets", "therapy_areas", "brands", "brand_lifecycle", "channels",
                  "content_assets", "internal_assessments"):
        raw[table].to_csv(out / f"{table}.csv", index=False)
    resp.to_csv(out / "respondents.csv", index=False)
    for table in ("brand_ratings", "channel_interactions", "content_exposure"):
        df = raw[table]
        df[df["respondent_id"].isin(ids)].to_csv(out / f"{table}.csv", index=False)
    return out


@pytest.fixture()
def dataset(small_csv: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "in"
    shutil.copytree(small_csv, copy)
    return copy


@pytest.fixture()
def existing_db(small_csv: Path, tmp_path: Path) -> Path:
    db = tmp_path / "db" / "cx.duckdb"
    ingest(small_csv, db)
    return db


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit(folder: Path, table: str, row: int, column: str, value: object) -> None:
    """Set one cell: row is the 1-based data row, as messages count them."""
    path = folder / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[row - 1, column] = value
    df.to_csv(path, index=False)


def _refused(dataset: Path, db: Path) -> IngestError:
    before = _digest(db)
    with pytest.raises(IngestError) as info:
        ingest(dataset, db)
    assert _digest(db) == before, "the existing database must stay byte-identical"
    with duckdb.connect(str(db), read_only=True) as con:  # and usable
        assert con.execute("SELECT count(*) FROM brand_ratings").fetchone()[0] > 0
    return info.value


def test_done_when_recommend_11_in_row_5_is_refused_with_exit_2(dataset: Path,
                                                                 existing_db: Path) -> None:
    _edit(dataset, "brand_ratings", 5, "recommend", "11")
    before = _digest(existing_db)
    result = CliRunner().invoke(main, ["data", "ingest", str(dataset), "--db", str(existing_db)])
    assert result.exit_code == 2
    assert "brand_ratings.csv, row 5, column recommend, value '11'" in result.output
    assert "out of range (scale 0–10)" in result.output
    assert _digest(existing_db) == before


@pytest.mark.parametrize(("table", "row", "column", "value", "rule"), [
    ("brand_ratings", 3, "satisfaction", "abc", "not a valid integer"),
    ("brand_ratings", 4, "recommend", "", "value required"),
    ("brand_ratings", 6, "satisfaction", "4.5", "must be a whole number"),
    ("brand_ratings", 2, "product_rating", "-1", "out of range (scale 0–10)"),
    ("respondents", 7, "setting", "clinic", "must be one of hospital, office"),
    ("respondents", 8, "weight", "0", "out of range"),
    ("brand_ratings", 9, "brand_id", "nosuchbrand", "refers to a brands row that does not exist"),
    ("channel_interactions", 2, "channel_id", "fax", "refers to a channels row"),
    ("channel_interactions", 3, "interactions", "0", "out of range"),
    ("content_exposure", 4, "useful", "9", "out of range (scale 1–5)"),
    ("waves", 2, "wave_id", "2025/Q3", "wave id must look like 2025-Q2"),
    ("waves", 1, "wave_type", "heavy", "must be one of full, light"),
])
def test_each_value_rule_names_file_row_column_value(dataset: Path, existing_db: Path, table: str,
                                                     row: int, column: str, value: str,
                                                     rule: str) -> None:
    _edit(dataset, table, row, column, value)
    err = _refused(dataset, existing_db)
    hits = [p for p in err.problems if p.file == f"{table}.csv" and p.row == row
            and p.column == column and rule in p.rule]
    assert hits, err.message()
    if value:
        assert hits[0].value == value


def test_duplicate_key(dataset: Path, existing_db: Path) -> None:
    df = pd.read_csv(dataset / "brand_ratings.csv", dtype=str, keep_default_na=False)
    pd.concat([df, df.iloc[[0]]]).to_csv(dataset / "brand_ratings.csv", index=False)
    err = _refused(dataset, existing_db)
    dup = [p for p in err.problems if "duplicate key" in p.rule]
    assert {p.row for p in dup} == {1, len(df) + 1}


def test_missing_table_and_missing_column(dataset: Path, existing_db: Path) -> None:
    (dataset / "respondents.csv").unlink()
    df = pd.read_csv(dataset / "brands.csv")
    df.drop(columns=["company"]).to_csv(dataset / "brands.csv", index=False)
    msg = _refused(dataset, existing_db).message()
    assert "required table 'respondents' not found" in msg
    assert "brands.csv, column company: required column missing" in msg


def test_light_wave_rules(dataset: Path, existing_db: Path, raw: RawSample) -> None:
    ratings = pd.read_csv(dataset / "brand_ratings.csv", dtype=str, keep_default_na=False)
    resp = pd.read_csv(dataset / "respondents.csv", dtype=str)
    light_ids = set(resp.loc[resp["wave_id"] == "2025-Q3", "respondent_id"])
    light_row = int(ratings.index[ratings["respondent_id"].isin(light_ids)][0]) + 1
    full_row = int(ratings.index[~ratings["respondent_id"].isin(light_ids)][0]) + 1
    _edit(dataset, "brand_ratings", light_row, "knowledge", "7")
    _edit(dataset, "brand_ratings", full_row, "ease", "")
    problems = _refused(dataset, existing_db).problems
    assert any(p.row == light_row and p.column == "knowledge" and "light waves do not ask"
               in p.rule for p in problems)
    assert any(p.row == full_row and p.column == "ease" and "full wave" in p.rule
               for p in problems)


def test_brand_must_belong_to_the_respondents_therapy_area(dataset: Path,
                                                          existing_db: Path) -> None:
    _edit(dataset, "brand_ratings", 1, "brand_id", "oncelis")
    problems = _refused(dataset, existing_db).problems
    assert any(p.row == 1 and "therapy area" in p.rule for p in problems)


def test_all_problems_reported_at_once_and_capped(dataset: Path, existing_db: Path) -> None:
    df = pd.read_csv(dataset / "brand_ratings.csv", dtype=str, keep_default_na=False)
    df["recommend"] = "12"
    df.to_csv(dataset / "brand_ratings.csv", index=False)
    _edit(dataset, "respondents", 1, "setting", "clinic")
    err = _refused(dataset, existing_db)
    assert len(err.problems) + err.omitted >= len(df) + 1
    text = err.message(limit=10)
    assert f"... and {len(err.problems) + err.omitted - 10} more" in text


def test_csv_parquet_and_excel_give_the_same_content(small_csv: Path, tmp_path: Path) -> None:
    pq_dir = tmp_path / "pq"
    pq_dir.mkdir()
    with pd.ExcelWriter(tmp_path / "book.xlsx") as xl:
        for f in small_csv.glob("*.csv"):
            df = pd.read_csv(f)
            df.to_parquet(pq_dir / f"{f.stem}.parquet", index=False)
            df.to_excel(xl, sheet_name=f.stem, index=False)
    versions = {kind: ingest(src, tmp_path / f"{kind}.duckdb").dataset_version
                for kind, src in (("csv", small_csv), ("parquet", pq_dir),
                                  ("xlsx", tmp_path / "book.xlsx"))}
    assert len(set(versions.values())) == 1, versions
    with duckdb.connect(str(tmp_path / "csv.duckdb"), read_only=True) as a, \
            duckdb.connect(str(tmp_path / "xlsx.duckdb"), read_only=True) as b:
        q = "SELECT * FROM brand_ratings ORDER BY respondent_id, brand_id"
        pd.testing.assert_frame_equal(a.execute(q).df(), b.execute(q).df())


def test_full_sample_csv_equals_parquet(sample_dir: Path, sample_db: Path, tmp_path: Path
                                        ) -> None:
    from cxengine.sample import generate_sample

    generate_sample(tmp_path / "csv", fmt="csv")
    report = ingest(tmp_path / "csv", tmp_path / "csv.duckdb")
    with duckdb.connect(str(sample_db), read_only=True) as con:
        version = con.execute("SELECT value FROM dataset_info WHERE key = 'dataset_version'"
                              ).fetchone()[0]
    assert report.dataset_version == version


def test_ingest_log_keeps_history_and_version(small_csv: Path, tmp_path: Path) -> None:
    db = tmp_path / "cx.duckdb"
    first = ingest(small_csv, db)
    second = ingest(small_csv, db)
    assert first.dataset_version == second.dataset_version
    with duckdb.connect(str(db), read_only=True) as con:
        log = con.execute("SELECT dataset_version, row_counts FROM ingest_log").fetchall()
    assert len(log) == 2 and json.loads(log[1][1])["brand_ratings"] == first.rows["brand_ratings"]


def test_unwritable_folder_gives_a_clear_message(small_csv: Path, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions; covered by the fault tests")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    result = CliRunner().invoke(main, ["data", "ingest", str(small_csv), "--db",
                                       str(folder / "cx.duckdb")])
    assert result.exit_code == 1 and "cannot write the database" in result.output


def test_data_info_json_lists_the_sample_catalogue(sample_db: Path) -> None:
    result = CliRunner().invoke(main, ["data", "info", "--db", str(sample_db), "--json"])
    info = json.loads(result.output)
    assert (len(info["waves"]), len(info["markets"]), len(info["therapy_areas"]),
            len(info["brands"]), len(info["channels"])) == (6, 5, 3, 12, 10)
    assert info["dataset_version"] and info["tables"]["brand_ratings"] > 0
