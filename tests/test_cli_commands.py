"""Every registered command loads and answers --help; errors leave by one path."""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["generate"], True),
        (["--quiet", "generate", "--date", "2024-10-26", "--json"], True),
        (["--config", "desk.toml", "generate", "--format", "pdf"], True),
        (["generate", "--format", "html"], False),
        (["generate", "--format=html"], False),
        (["generate", "--help"], False),
        (["--config", "generate", "events", "list"], False),
        (["events", "list"], False),
        (["--version"], False),
        ([], False),
    ],
)
def test_only_a_pdf_generate_starts_its_renderer_before_the_commands_imports(args, expected):
    from briefing.__main__ import renders_pdf

    assert renders_pdf(args) is expected


def test_the_installed_command_makes_a_pdf_and_refuses_bad_usage_in_one_line(cli, tmp_path):
    """Through the entry point a user runs (`python -m briefing`, as the script does): a PDF
    generate whose renderer started first, and one whose arguments are refused before use."""
    import json
    import os
    import subprocess
    import sys

    assert cli("events", "import", str(DEMO_EVENTS)).code == 0
    command = [sys.executable, "-m", "briefing", "--quiet", "generate", "--date", "2024-10-26"]
    environment = {**os.environ, "BRIEFING_OUTPUT_DIR": str(tmp_path / "output")}

    refused = subprocess.run(
        [*command, "--since", "2024-10-25"], capture_output=True, text=True, env=environment
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1] == (
        "Error: --date cannot be combined with --since/--until"
    )
    assert not (tmp_path / "output" / "briefs").exists()

    made = subprocess.run([*command, "--json"], capture_output=True, text=True, env=environment)
    assert made.returncode == 0, made.stderr
    edition = json.loads(made.stdout)
    assert edition["pages"] >= 1
    assert Path(edition["path"]).read_bytes().startswith(b"%PDF-")
