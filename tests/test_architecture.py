"""Data flows one way: a lower step never imports a higher one, and the CLI holds no SQL."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import briefing

PACKAGE = Path(briefing.__file__).parent
# Each stage is a folder (or module) of the package; a stage imports only from stages before it.
# The scheduler's slot arithmetic (briefing.schedule.slots) is pure, and the conductor uses it to
# find a brief's newest slot; the rest of the scheduler comes after every other step.
# The conductor (briefing.pipeline) orders generate → notice → send, so it calls delivery; delivery
# reads an edition's brief from briefing.edition_brief, below both, and never calls the conductor.
SCHEDULER = {
    f"briefing.schedule.{name}"
    for name in ("daemon", "runs", "heartbeat", "outcomes", "status", "leader")
}
LATER_STEPS = {"briefing.pipeline", "briefing.deliver", *SCHEDULER, "briefing.web", "briefing.cli"}
DOCUMENT = {"briefing.document", "briefing.archive", "briefing.edition_brief", *LATER_STEPS}
EARLY = {"briefing.review", "briefing.brief"}
FORBIDDEN = {
    "briefing.event": {"briefing.store", "briefing.ingest", *EARLY, *DOCUMENT},
    "briefing.store": {"briefing.ingest", *EARLY, *DOCUMENT},
    "briefing.ingest": {*EARLY, *DOCUMENT},
    "briefing.review": {
        "briefing.document", "briefing.archive", "briefing.edition_brief", *LATER_STEPS,
    },
    "briefing.brief": {
        "briefing.store", "briefing.ingest", "briefing.review", "sqlalchemy", "weasyprint",
        "jinja2", *DOCUMENT,
    },
    "briefing.document": {
        "briefing.store", "briefing.ingest", "briefing.review", "briefing.archive", "sqlalchemy",
        *LATER_STEPS,
    },
    "briefing.document.render": {"weasyprint"},
    # What a renderer process imports before any brief exists: WeasyPrint's inputs only.
    "briefing.document.page": {"weasyprint", "jinja2", "pydantic", "briefing.brief"},
    "briefing.document.pdf_worker": {"weasyprint"},
    "briefing.archive": {"briefing.document", "briefing.brief", "weasyprint", *LATER_STEPS},
    "briefing.edition_brief": {"briefing.document", "briefing.archive", *LATER_STEPS},
    "briefing.pipeline": {*SCHEDULER, "briefing.web", "briefing.cli"},
    "briefing.deliver": {"briefing.pipeline", *SCHEDULER, "briefing.web", "briefing.cli"},
    "briefing.schedule": {"briefing.web", "briefing.cli"},
    "briefing.web": {"sqlalchemy", "weasyprint", *SCHEDULER, "briefing.cli"},
    "briefing.cli": {"sqlalchemy", "weasyprint", "jinja2"},
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
    assert violations("briefing.brief.compose", {"briefing.store.events"}) == [
        "briefing.store.events"
    ]


def test_every_rule_names_a_stage_that_exists():
    stages = {module_name(path) for path in PACKAGE.rglob("*.py")}
    named = {*FORBIDDEN, *SCHEDULER}
    assert [name for name in named if name not in stages] == []


def test_the_conductor_calls_delivery_and_delivery_never_calls_it_back():
    assert violations("briefing.pipeline", {"briefing.deliver.send"}) == []
    assert violations("briefing.deliver.send", {"briefing.pipeline.brief_for_edition"}) == [
        "briefing.pipeline.brief_for_edition"
    ]


def test_send_and_the_scheduler_publish_through_the_one_conductor():
    """Which edition, the admins' notice and the mailing are ordered in pipeline.publish only."""
    for path in (PACKAGE / "cli" / "send.py", PACKAGE / "schedule" / "runs.py"):
        imported = imports_of(path)
        assert "briefing.pipeline.publish" in imported, path
        ordered_elsewhere = {
            "briefing.pipeline.generate_edition",
            "briefing.pipeline.edition_to_send",
            "briefing.deliver.send_edition",
            "briefing.deliver.send_notice",
        }
        assert ordered_elsewhere & imported == set(), path


# --- imports inside functions: only where start-up time needs them ---------------------------

HEAVY = ("sqlalchemy", "weasyprint", "jinja2", "pydantic", "trafilatura", "babel", "alembic")


def loaded_after(code: str) -> set[str]:
    """The heavy top-level packages a fresh interpreter holds after running `code`."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split()) & set(HEAVY)


def test_help_loads_no_heavy_library():
    """Each command imports the core when it runs, so `briefing --help` stays instant (the
    event model's pydantic aside: the import command's options come from it)."""
    code = "from briefing.cli import cli\ncli(['--help'], standalone_mode=False)"
    assert loaded_after(code) - {"pydantic"} == set()


def test_the_renderer_process_loads_weasyprint_and_nothing_else_heavy():
    """`generate` forks its renderer first; what that process imports is on every PDF's path."""
    assert loaded_after("import briefing.document.pdf") == {"weasyprint"}
