"""Data flows one way: a lower step never imports a higher one, and the CLI holds no SQL."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import briefing

PACKAGE = Path(briefing.__file__).parent
SCHEDULER = {
    "briefing.schedule",
    "briefing.runs",
    "briefing.heartbeat",
    "briefing.run_outcomes",
    "briefing.schedule_status",
    "briefing.leader",
}
LATER_STEPS = {"briefing.pipeline", "briefing.deliver", *SCHEDULER, "briefing.web"}
FORBIDDEN = {
    "briefing.event": {"briefing.store", "briefing.compose", "briefing.render", *LATER_STEPS},
    "briefing.store": {
        "briefing.ingest", "briefing.compose", "briefing.render", "briefing.archive", *LATER_STEPS
    },
    "briefing.ingest": {"briefing.compose", "briefing.render", "briefing.archive", *LATER_STEPS},
    "briefing.window": {"briefing.store", "briefing.compose", "briefing.render", *LATER_STEPS},
    "briefing.compose": {
        "briefing.store", "briefing.ingest", "briefing.render", "briefing.archive", "sqlalchemy",
        "weasyprint", "jinja2", *LATER_STEPS,
    },
    "briefing.pdf_worker": {"briefing.store", "sqlalchemy", "weasyprint", *LATER_STEPS},
    "briefing.pdf": {
        "briefing.store", "briefing.ingest", "briefing.archive", "sqlalchemy", *LATER_STEPS
    },
    "briefing.render": {"weasyprint",
        "briefing.store", "briefing.ingest", "briefing.archive", "sqlalchemy", *LATER_STEPS
    },
    "briefing.archive": {"briefing.render", "briefing.compose", "weasyprint", *LATER_STEPS},
    "briefing.pipeline": {"briefing.deliver", *SCHEDULER, "briefing.web"},
    "briefing.deliver": {*SCHEDULER, "briefing.web"},
    "briefing.web": {"sqlalchemy", "weasyprint", "briefing.commands", *SCHEDULER},
    "briefing.cli": {"sqlalchemy", "weasyprint", "jinja2"},
    "briefing.commands": {"sqlalchemy", "weasyprint", "jinja2"},
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def violations(module: str, imported: set[str]) -> list[str]:
    rules = [banned for owner, banned in FORBIDDEN.items() if module.startswith(owner)]
    return sorted(
        name
        for banned in rules
        for target in banned
        for name in imported
        if name == target or name.startswith(target + ".")
    )


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_imports_flow_one_way(path: Path):
    assert violations(module_name(path), imports_of(path)) == []


def test_the_rule_catches_a_backward_import():
    assert violations("briefing.compose", {"briefing.store.events"}) == ["briefing.store.events"]
