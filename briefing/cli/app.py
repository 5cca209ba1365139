"""What every subcommand shares: settings and store opened once, and ways to print.

Everything printed for a person goes through `echo` or `print_table`, which escape control
characters: stored text (a title, a name) must not drive the reader's terminal. JSON output
(`print_json`) is data and stays exact.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from briefing.config import Settings
    from briefing.store import Store


class App:
    """The state of one CLI invocation; settings and the store are opened on first use.

    Their modules are imported only then too, so a command can start other work first.
    """

    def __init__(self, config_path: str | None = None, quiet: bool = False) -> None:
        self.config_path = config_path
        self.quiet = quiet

    @cached_property
    def settings(self) -> Settings:
        from briefing.config import load_settings

        return load_settings(self.config_path)

    @cached_property
    def store(self) -> Store:
        from briefing.store import Store

        return Store(self.settings.db_url)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.dispose()

    def say(self, message: str) -> None:
        """Progress and confirmations for a person; silent with --quiet, on stderr."""
        if not self.quiet:
            echo(message, err=True)


pass_app = click.make_pass_decorator(App)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with each control character but tab and newline shown as an escape, like '\\x1b'."""
    return _CONTROL.sub(lambda found: ascii(found.group())[1:-1], text)


def echo(message: object = "", *, err: bool = False) -> None:
    """Print a line for a person (stdout, or stderr with `err`), control characters escaped."""
    click.echo(printable(str(message)), err=err)


def print_table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> None:
    """A borderless table on stdout; cells are plain text, never rich markup, and printable."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(*headers, box=None)
    for row in rows:
        table.add_row(*(Text(printable(str(cell))) for cell in row))
    Console().print(table)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)
