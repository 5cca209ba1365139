"""Errors a user can act on: each carries a one-line message naming what is wrong and where."""


class BriefingError(Exception):
    """Base of every error the CLI reports as a one-line message and a non-zero exit."""

    exit_code = 1


class ConfigError(BriefingError):
    """The configuration file or a BRIEFING_* variable is invalid."""


class InputError(BriefingError):
    """An input file or record is invalid; nothing was stored."""


class NotFoundError(BriefingError):
    """A named thing (edition, brief, subscriber) does not exist."""
