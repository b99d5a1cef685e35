"""`cxassist ask` and `cxassist chat`: the assistant on the command line.

Imports stay light at module level: the engine and the retriever are only
loaded inside the commands, and the retriever only when a question needs
documents, so a numeric `ask` never imports torch.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assistant.config import Settings


def _assistant(db: Path | None, index_dir: Path | None):  # -> Assistant (lazy import)
    """The assistant on the database; a missing or unusable database ends the command with
    the store's message (what is wrong, how to rebuild) and exit status 1."""
    from assistant.service import Assistant
    from cxengine.store import StoreError

    s = Settings()
    try:
        return Assistant.from_settings(db or s.db, index_dir or s.index_dir)
    except StoreError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def _echo(answer, as_json: bool) -> None:  # answer: Answer
    if as_json:
        click.echo(answer.to_json())
        return
    click.echo(answer.text)
    if answer.options:
        click.echo("Options: " + " | ".join(answer.options))
    for w in answer.warnings:
        click.echo(f"! {w}", err=True)


_db_option = click.option("--db", type=click.Path(path_type=Path), default=None,
                          help="Benchmark database (default: $CXASSIST_DB or data/cx.duckdb).")
_index_option = click.option("--index-dir", type=click.Path(path_type=Path), default=None,
                             help="Document index (default: $CXASSIST_INDEX_DIR or data/index).")


@click.command("ask")
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the Answer as JSON.")
@_db_option
@_index_option
def ask_cmd(question: str, as_json: bool, db: Path | None, index_dir: Path | None) -> None:
    """Answer one QUESTION about the benchmark."""
    _echo(_assistant(db, index_dir).ask(question), as_json)


@click.command("chat")
@click.option("--json", "as_json", is_flag=True,
              help="Read one question per line from stdin, print one JSON answer per line.")
@click.option("--brand", default=None, help="Your brand: what 'we' and 'our' mean.")
@_db_option
@_index_option
def chat_cmd(as_json: bool, brand: str | None, db: Path | None, index_dir: Path | None) -> None:
    """A conversation: follow-ups ("and in France?", "why?") keep the context."""
    from assistant.conversation import Conversation

    assistant = _assistant(db, index_dir)
    conversation = Conversation(default_brand=brand)
    interactive = not as_json and sys.stdin.isatty()
    if interactive:
        click.echo("Ask about the CX benchmark; empty line or Ctrl-D to quit.")
    while True:
        if interactive:
            click.echo("> ", nl=False)
        line = sys.stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            if interactive:
                break
            continue
        _echo(assistant.ask(question, conversation), as_json)
        sys.stdout.flush()
