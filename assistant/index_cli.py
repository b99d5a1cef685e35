"""`cxassist index ...`: build the retrieval index over the document corpus."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from assistant.config import Settings


@click.group("index")
def index_group() -> None:
    """Build and inspect the document index."""


@index_group.command("build")
@click.option("--docs", "docs", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Document folder(s): markdown, text and PDF (default: data/sample/docs).")
@click.option("--index-dir", type=click.Path(path_type=Path), default=None)
@click.option("--rebuild", is_flag=True, help="Ignore the existing index and build afresh.")
def build_cmd(docs: tuple[Path, ...], index_dir: Path | None, rebuild: bool) -> None:
    """Build or update the index incrementally and atomically."""
    from index.build import build_index
    from index.errors import CxIndexError

    s = Settings()
    try:
        report = build_index(list(docs) or [s.docs], index_dir or s.index_dir,
                             host=s.chroma_host, port=s.chroma_port, rebuild=rebuild)
    except CxIndexError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(json.dumps(report.__dict__, indent=2, default=str))
