"""Every registered command loads and answers --help; errors leave by one path."""

from __future__ import annotations

import pytest

from briefing.cli import COMMANDS, load_command
from tests.conftest import DEMO_EVENTS


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_registered_command_loads_and_has_help(name, cli):
    assert load_command(name).name == name
    result = cli(name, "--help")
    assert result.code == 0 and "Usage:" in result.out


def test_the_top_level_help_lists_every_command(cli):
    listed = cli("--help").out
    assert all(name in listed for name in COMMANDS)


def test_a_failed_check_ends_with_one_error_line_and_its_status(cli, tmp_path):
    cli("events", "import", str(DEMO_EVENTS))
    made = cli("generate", "--date", "2024-10-26", "--json")
    assert made.code == 0, made.err
    (tmp_path / "output" / "briefs" / "stray.pdf").write_bytes(b"%PDF-1.7")
    result = cli("archive", "verify")
    assert result.code == 1
    assert result.err.strip().splitlines()[-1] == (
        "error: 0 editions failed the check, 1 files unrecorded"
    )
