"""Errors a user can act on: each carries a one-line message naming what is wrong and where."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class BriefingError(Exception):
    """Base of every error the CLI reports as a one-line message and a non-zero exit."""

    exit_code = 1


class Stopped(BriefingError):
    """A command that has already told the user what went wrong ends with this exit status.

    With a message, the CLI prints it as the one `error:` line; without one, nothing more.
    """

    def __init__(self, exit_code: int = 1, message: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ConfigError(BriefingError):
    """The configuration file or a BRIEFING_* variable is invalid."""


class InputError(BriefingError):
    """An input file or record is invalid; nothing was stored."""


class NotFoundError(BriefingError):
    """A named thing (edition, brief, subscriber) does not exist."""


def validation_problems(
    exc: ValidationError, unknown: str = "unknown field"
) -> list[tuple[str, str]]:
    """Each problem pydantic found as (field path, message) worded for a person."""
    problems = []
    for error in exc.errors():
        path = ""
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        if error["type"] == "missing":
            message = "required field is missing"
        elif error["type"] == "extra_forbidden":
            message = unknown
        else:
            message = error["msg"].removeprefix("Value error, ")
        problems.append((path.lstrip(".") or "(record)", message))
    return problems


def summarise_problems(shown: list[str], count: int, noun: str) -> str:
    """The first problems of a refused import, how many more there were, and that none was kept."""
    lines = list(shown)
    if count > len(shown):
        lines.append(f"… and {count - len(shown)} more errors")
    lines.append(f"nothing was imported ({count} bad {noun}{'s' * (count != 1)})")
    return "\n".join(lines)


def one_line(exc: BaseException) -> str:
    """An error as one line for logs and run records; a BriefingError's message says enough."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, BriefingError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
