"""`cxassist data ...`: sample generation, validated ingestion, dataset info."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assistant.config import Settings

if TYPE_CHECKING:
    from cxengine.ingest import IngestReport


@click.group("data")
def data_group() -> None:
    """Build, load and inspect benchmark data."""


@data_group.command("sample")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder to write the tables to (default: data/sample_files).")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True)
@click.option("--scale", type=click.IntRange(min=1), default=1, show_default=True,
              help="Multiply respondents (100 = about 5 million brand ratings).")
@click.option("--seed", type=int, default=None, help="Random seed (default: scenario.yaml).")
@click.option("--scenario", type=click.Path(exists=True, path_type=Path), default=None)
def sample_cmd(out_dir: Path | None, fmt: str, scale: int, seed: int | None,
               scenario: Path | None) -> None:
    """Write the sample benchmark tables as Parquet or CSV files."""
    from cxengine.sample import generate_sample
    from cxengine.scenario import Scenario

    settings = Settings()
    report = generate_sample(out_dir or settings.sample_dir, fmt=fmt, scale=scale, seed=seed,
                             scenario=Scenario.load(scenario or settings.scenario))
    click.echo(json.dumps(report.__dict__, indent=2))


def _ingest_or_exit(source: Path, db: Path) -> IngestReport:
    """Ingest, or say why not and exit: 2 for an invalid input, 1 when the database cannot be
    written. Either way the existing database is unchanged."""
    from cxengine.ingest import DatabaseWriteError, IngestError, ingest

    try:
        return ingest(source, db)
    except IngestError as exc:
        click.echo(exc.message(), err=True)
        sys.exit(2)
    except DatabaseWriteError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@data_group.command("ingest")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--db", type=click.Path(path_type=Path), default=None,
              help="Database file to (re)build (default: data/cx.duckdb).")
def ingest_cmd(source: Path, db: Path | None) -> None:
    """Validate SOURCE (a folder of CSV/Parquet files, or an .xlsx workbook) and load it.

    On any problem nothing is written: exit status 2 for an invalid input (every problem is
    listed), 1 when the database cannot be written (disk full, unwritable folder).
    """
    report = _ingest_or_exit(source, db or Settings().db)
    click.echo(json.dumps(report.__dict__, indent=2))


@data_group.command("build")
def build_cmd() -> None:
    """Sample + ingest + render the sample wave reports (what `make run` uses).

    All or nothing: the database is built and the reports rendered from a staged copy, which
    replaces the database only once both worked; a failure leaves the old one in place (so
    `make data` is not fooled into taking a half-built sample for done)."""
    from cxengine.reports import ReportError, render_reports
    from cxengine.sample import generate_sample
    from cxengine.scenario import Scenario

    s = Settings()
    sample = generate_sample(s.sample_dir, scenario=Scenario.load(s.scenario))
    click.echo(f"sample: {sum(sample.rows.values())} rows -> {sample.out_dir}", err=True)
    # Named like ingest's own temporary files, so a killed build's leftover is cleared later.
    staged = s.db.with_name(f".{s.db.name}.{os.getpid()}.tmp.build")
    try:
        if s.db.exists():  # the ingest log keeps the database's history
            shutil.copyfile(s.db, staged)
        report = _ingest_or_exit(s.sample_dir, staged)
        try:
            written = render_reports(s.report_templates, s.wave_reports_dir, staged)
        except ReportError as exc:  # a template asks for what the data cannot give
            click.echo(f"wave reports not rendered, database not replaced: {exc}", err=True)
            sys.exit(1)
        os.replace(staged, s.db)
    finally:
        staged.unlink(missing_ok=True)
    click.echo(f"database: {s.db} (version {report.dataset_version})", err=True)
    click.echo(f"wave reports: {len(written)} rendered -> {s.wave_reports_dir}", err=True)


@data_group.command("info")
@click.option("--db", type=click.Path(path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info_cmd(db: Path | None, as_json: bool) -> None:
    """Tables, row counts, waves, markets, TAs, brands, channels and dataset version."""
    from cxengine.store import Store, StoreError, describe

    try:
        info = describe(Store(db or Settings().db))
    except StoreError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"database  {info['db']}  version {info['dataset_version']}")
    for name, n in info["tables"].items():
        click.echo(f"  {name:<22}{n:>12,}")
    click.echo("waves          " + ", ".join(f"{w['wave_id']} ({w['wave_type']})"
                                        for w in info["waves"]))
    for key in ("markets", "therapy_areas", "brands", "channels"):
        click.echo(f"{key:<15}" + ", ".join(info[key]))


@data_group.command("schema")
def schema_cmd() -> None:
    """Print the data schema as Markdown."""
    from cxengine.schema import schema_markdown

    click.echo(schema_markdown())
