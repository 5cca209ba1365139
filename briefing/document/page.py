"""What a page is made from: the template folders, and everything WeasyPrint needs from a
brief (`PdfSource`, `PackedFile`). Free of jinja2 and of the brief's model, so that a
pre-started renderer process (`briefing.document.pdf_worker`) loads WeasyPrint and nothing
else."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
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
    """Everything WeasyPrint needs to lay out a brief's pages, made without loading it."""

    html: str
    title: str
    author: str
    created: datetime
    template_dir: Path | None


@dataclass(frozen=True)
class PackedFile:
    """A file to attach, deflated before it reaches the renderer: the events' JSON of a large
    window is made and compressed while the renderer lays out the pages (WeasyPrint would
    compress it afterwards, at its slowest level, in the renderer)."""

    deflated: bytes
    size: int
    md5: str

    @classmethod
    def pack(cls, parts: Iterable[bytes]) -> PackedFile:
        """The file made of `parts`, each compressed in a thread while the next is made (zlib
        and md5 let go of the GIL), so that the whole file is never held at once."""
        deflate, digest = zlib.compressobj(ATTACHMENT_LEVEL), hashlib.md5(usedforsecurity=False)
        size, deflated = 0, []

        def take(part: bytes) -> None:
            digest.update(part)
            deflated.append(deflate.compress(part))

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pack") as packer:
            taken: Future[None] | None = None
            for part in parts:
                if taken is not None:
                    taken.result()
                taken = packer.submit(take, part)
                size += len(part)
            if taken is not None:
                taken.result()
        deflated.append(deflate.flush())
        return cls(b"".join(deflated), size, digest.hexdigest())


ATTACHMENT_LEVEL = 6


def w3c_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
