"""What a page is made from: the template folders, and everything WeasyPrint needs from a
brief (`PdfSource`). Free of jinja2 and of the brief's model, so that a pre-started renderer
process (`briefing.document.pdf_worker`) loads WeasyPrint and nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from briefing.errors import ConfigError


def default_template_dir() -> Path:
    """The shipped templates: inside the installed package, else the source checkout's."""
    package = Path(__file__).parents[1]
    installed = package / "templates"
    if installed.is_dir():
        return installed
    return package.parent / "templates"


def template_folders(template_dir: Path | None = None) -> list[Path]:
    """The folders searched for templates and assets, user folder first."""
    folders = [default_template_dir()]
    if template_dir is not None:
        user = Path(template_dir)
        if not user.is_dir():
            raise ConfigError(f"template_dir: {user} is not a folder")
        folders.insert(0, user)
    return folders


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


@dataclass(frozen=True)
class PdfSource:
    """Everything WeasyPrint needs to make a brief's PDF, made without loading it: so a
    pre-started renderer process receives a page and bytes, not the brief."""

    html: str
    title: str
    author: str
    created: datetime
    events_json: bytes
    template_dir: Path | None


def w3c_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
