"""Validated, atomic ingestion: every rule names file, row, column and value; nothing is lost."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner

from assistant.cli import main
from cxengine.ingest import IngestError, ingest
from cxengine.validation import REQUIRED_TABLES, Problem
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


@pytest.fixture(scope="session")
def small_db(small_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("small_db") / "cx.duckdb"
    ingest(small_csv, db)
    return db


@pytest.fixture()
def existing_db(small_db: Path, tmp_path: Path) -> Path:
    db = tmp_path / "db" / "cx.duckdb"
    db.parent.mkdir()
    shutil.copyfile(small_db, db)
    return db


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit(folder: Path, table: str, row: int, column: str, value: object) -> None:
    """Set one cell: row is the 1-based data row, as messages count them."""
    path = folder / f"{table}.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[row - 1, column] = value
    df.to_csv(path, index=False)


def _read(folder: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)


def _hits(problems: list[Problem], file: str, row: int | None, column: str | None,
          rule: str) -> list[Problem]:
    return [p for p in problems if p.file == file and p.row == row and p.column == column
            and rule in p.rule]


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
    # row 5 is the 5th data row; the header is line 1 of the file, so it is on line 6
    assert "brand_ratings.csv, row 5 (line 6), column recommend, value '11'" in result.output
    assert "out of range (scale 0–10)" in result.output
    assert _digest(existing_db) == before


@pytest.mark.parametrize(("table", "row", "column", "value", "rule"), [
    ("brand_ratings", 3, "satisfaction", "abc", "must be a whole number"),
    ("brand_ratings", 4, "recommend", "", "value required"),
    ("brand_ratings", 6, "satisfaction", "4.5", "must be a whole number"),
    ("brand_ratings", 5, "recommend", "0x10", "must be a whole number"),  # CAST reads 16
    ("channel_interactions", 4, "interactions", "1e3", "must be a whole number"),
    ("waves", 3, "sequence", "2.5", "must be a whole number"),
    ("brand_ratings", 2, "product_rating", "-1", "out of range (scale 0–10)"),
    ("brand_ratings", 6, "patient_share", "abc", "not a number"),
    ("respondents", 3, "weight", "0x1", "not a number"),
    ("respondents", 8, "weight", "0", "must be greater than 0"),
    ("internal_assessments", 2, "estimate", "inf", "must be a finite number"),
    ("brand_ratings", 3, "prescriber", "maybe", "must be true or false"),
    ("waves", 2, "fieldwork_start", "2025-13-01", "not a date (YYYY-MM-DD)"),
    ("waves", 2, "fieldwork_end", "2024-01-31", "must not be before fieldwork_start"),
    ("respondents", 7, "setting", "clinic", "must be one of hospital, office"),
    ("brand_ratings", 9, "brand_id", "nosuchbrand", "refers to a brands row that does not exist"),
    ("channel_interactions", 2, "channel_id", "fax", "refers to a channels row"),
    ("channel_interactions", 3, "interactions", "0", "must be at least 1"),
    ("content_exposure", 4, "useful", "9", "out of range (scale 1–5)"),
    ("waves", 2, "wave_id", "2025/Q3", "wave id must look like 2025-Q2"),
    ("waves", 1, "wave_type", "heavy", "must be one of full, light"),
    ("brands", 2, "brand_id", "Cardio Vex", "brand id must be a lowercase slug"),
    ("internal_assessments", 3, "kpi_id", "happiness", "not a KPI of the catalogue"),
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


def test_wave_sequence_must_be_unique(dataset: Path, existing_db: Path) -> None:
    _edit(dataset, "waves", 2, "sequence", "1")
    problems = _refused(dataset, existing_db).problems
    duplicates = [p for p in problems if p.column == "sequence" and "duplicate" in p.rule]
    assert {p.row for p in duplicates} == {1, 2}


def test_useful_must_be_empty_when_the_asset_was_not_seen(dataset: Path,
                                                          existing_db: Path) -> None:
    exposure = _read(dataset, "content_exposure")
    row = int(exposure.index[exposure["seen"] == "False"][0]) + 1
    _edit(dataset, "content_exposure", row, "useful", "4")
    problems = _refused(dataset, existing_db).problems
    assert _hits(problems, "content_exposure.csv", row, "useful",
                 "must be empty when seen is false")


def test_exposure_brand_must_be_the_brand_of_its_asset(dataset: Path, existing_db: Path) -> None:
    assets = _read(dataset, "content_assets")
    oncology_asset = assets.loc[assets["brand_id"] == "oncelis", "asset_id"].iloc[0]
    _edit(dataset, "content_exposure", 1, "asset_id", oncology_asset)  # a cardiology rater
    problems = _refused(dataset, existing_db).problems
    assert _hits(problems, "content_exposure.csv", 1, "brand_id", "not the brand of the asset")


@pytest.mark.parametrize("table", ["channel_interactions", "content_exposure"])
def test_light_waves_carry_no_channel_or_content_rows(dataset: Path, existing_db: Path,
                                                      table: str) -> None:
    respondents, ratings = _read(dataset, "respondents"), _read(dataset, "brand_ratings")
    light_ids = respondents.loc[respondents["wave_id"] == "2025-Q3", "respondent_id"]
    light = ratings[ratings["respondent_id"].isin(light_ids)].iloc[0]
    rows = _read(dataset, table)
    extra = rows.iloc[[0]].assign(respondent_id=light["respondent_id"], brand_id=light["brand_id"])
    pd.concat([rows, extra]).to_csv(dataset / f"{table}.csv", index=False)
    problems = _refused(dataset, existing_db).problems
    assert _hits(problems, f"{table}.csv", len(rows) + 1, "respondent_id",
                 "light waves carry no rows in this table")


@pytest.mark.parametrize("table", ["channel_interactions", "content_exposure"])
def test_two_column_foreign_key_into_brand_ratings(dataset: Path, existing_db: Path,
                                                   table: str) -> None:
    """The respondent and the brand both exist, but this respondent did not rate that brand."""
    ratings = _read(dataset, "brand_ratings")
    rated = set(zip(ratings["respondent_id"], ratings["brand_id"], strict=True))
    respondent = _read(dataset, table).loc[0, "respondent_id"]
    unrated = next(b for b in _read(dataset, "brands")["brand_id"] if (respondent, b) not in rated)
    _edit(dataset, table, 1, "brand_id", unrated)
    problems = _refused(dataset, existing_db).problems
    hits = _hits(problems, f"{table}.csv", 1, "respondent_id, brand_id",
                 "refers to a brand_ratings row that does not exist")
    assert hits and hits[0].value == f"{respondent}/{unrated}"


def test_a_bad_brand_id_is_reported_first_as_the_root_cause(dataset: Path,
                                                            existing_db: Path) -> None:
    brands = _read(dataset, "brands")
    row = int(brands.index[brands["brand_id"] == "cardiovex"][0]) + 1
    _edit(dataset, "brands", row, "brand_id", "Cardiovex")
    err = _refused(dataset, existing_db)
    first = err.problems[0]
    assert (first.file, first.row, first.column, first.value) == ("brands.csv", row, "brand_id",
                                                                  "Cardiovex")
    assert "lowercase slug" in first.rule
    assert len(err.message().splitlines()) <= 52  # the follow-on errors are capped


@pytest.mark.parametrize("shifted", [False, True], ids=["plain", "blank-line-and-line-break"])
def test_a_short_or_long_csv_line_is_reported_by_line(dataset: Path, existing_db: Path,
                                                      shifted: bool) -> None:
    path = dataset / "brand_ratings.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[4] = "r1,cardiovex,true,9\n"  # line 5: 4 fields
    lines[7] = lines[7].rstrip("\n") + ",extra\n"  # line 8: one field too many
    if shifted:  # a blank line 3, and data row 1 split over lines 2 and 3 by a quoted break
        lines[1] = '"split\nid"' + lines[1][lines[1].index(","):]
        lines.insert(2, "\n")
    path.write_text("".join(lines))
    err = _refused(dataset, existing_db)
    assert [str(p) for p in err.problems] == [
        f"brand_ratings.csv, line {5 + 2 * shifted}: 4 fields, expected 16",
        f"brand_ratings.csv, line {8 + 2 * shifted}: 17 fields, expected 16"], err.message()


def test_csv_lines_count_blank_lines_and_quoted_line_breaks(dataset: Path,
                                                            existing_db: Path) -> None:
    waves = _read(dataset, "waves")
    waves.loc[0, "label"] = "Q2\n2024"  # data row 1 spans lines 3 and 4
    waves.loc[3, "sequence"] = "x"
    header, body = waves.to_csv(index=False).split("\n", 1)
    (dataset / "waves.csv").write_text(header + "\n\n" + body)  # line 2 is blank
    message = _refused(dataset, existing_db).message()
    assert "waves.csv, row 4 (line 7), column sequence, value 'x'" in message


def test_excel_problems_name_the_sheet_row(small_csv: Path, existing_db: Path,
                                          tmp_path: Path) -> None:
    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as xl:
        for table in REQUIRED_TABLES:
            df = _read(small_csv, table)
            if table == "brand_ratings":
                df.loc[4, "recommend"] = "11"
            df.to_excel(xl, sheet_name=table, index=False)
    message = _refused(book, existing_db).message()
    assert ("book.xlsx [sheet brand_ratings], sheet row 6, column recommend, value '11': "
            "out of range (scale 0–10)") in message


@pytest.mark.parametrize(("column", "rule"), [("wave_type", "must be one of full, light"),
                                              ("wave_id", "wave id must look like 2025-Q2")])
def test_parquet_column_of_the_wrong_type_is_reported(small_csv: Path, existing_db: Path,
                                                      tmp_path: Path, column: str,
                                                      rule: str) -> None:
    folder = tmp_path / "pq"
    folder.mkdir()
    for table in REQUIRED_TABLES:
        pd.read_csv(small_csv / f"{table}.csv").to_parquet(folder / f"{table}.parquet")
    waves = pd.read_parquet(folder / "waves.parquet")
    waves[column] = range(1, len(waves) + 1)  # stored as integers
    waves.to_parquet(folder / "waves.parquet")
    hits = _hits(_refused(folder, existing_db).problems, "waves.parquet", 1, column, rule)
    assert hits and hits[0].value == "1"


def test_an_unreadable_file_is_reported_with_the_other_problems(dataset: Path,
                                                                existing_db: Path) -> None:
    (dataset / "brands.csv").unlink()
    (dataset / "brands.parquet").write_bytes(b"this is not a parquet file")
    _edit(dataset, "respondents", 2, "setting", "clinic")
    problems = _refused(dataset, existing_db).problems
    assert _hits(problems, "brands.parquet", None, None, "cannot read file")
    assert _hits(problems, "respondents.csv", 2, "setting", "must be one of hospital, office")


def test_a_source_that_is_neither_a_folder_nor_a_workbook_is_refused(tmp_path: Path,
                                                                     existing_db: Path) -> None:
    source = tmp_path / "ratings.txt"
    source.write_text("recommend\n7\n")
    before = _digest(existing_db)
    result = CliRunner().invoke(main, ["data", "ingest", str(source), "--db", str(existing_db)])
    assert result.exit_code == 2
    assert "expected a folder of CSV/Parquet files or an .xlsx workbook" in result.output
    assert _digest(existing_db) == before


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


def test_data_info_json_lists_the_sample_catalogue(sample_db: Path) -> None:
    result = CliRunner().invoke(main, ["data", "info", "--db", str(sample_db), "--json"])
    info = json.loads(result.output)
    assert (len(info["waves"]), len(info["markets"]), len(info["therapy_areas"]),
            len(info["brands"]), len(info["channels"])) == (6, 5, 3, 12, 10)
    assert info["dataset_version"] and info["tables"]["brand_ratings"] > 0
