"""`cxassist`: the command-line entry point."""

from __future__ import annotations

import click

from assistant.ask_cli import ask_cmd, chat_cmd
from assistant.data_cli import data_group
from assistant.index_cli import index_group


@click.group()
@click.version_option(package_name="cx-benchmark-assistant")
def main() -> None:
    """CX Benchmark Assistant: exact answers about CX benchmark results, with evidence."""


main.add_command(data_group)
main.add_command(index_group)
main.add_command(ask_cmd); main.add_command(chat_cmd)  # noqa: E702

if __name__ == "__main__":
    main()
