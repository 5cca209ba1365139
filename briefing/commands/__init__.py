"""What every subcommand shares: settings and store opened once, and ways to print."""

from __future__ import annotations

import json
import sys
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
            click.echo(message, err=True)


pass_app = click.make_pass_decorator(App)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)
