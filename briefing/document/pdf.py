"""Turn a composed brief into a PDF that can read nothing but its own template files.

Kept apart from `briefing.document.render` so that what needs only HTML or templates (email,
and the process that hands a brief to a pre-started renderer) does not load WeasyPrint; and
importing it loads WeasyPrint and `briefing.document.page` only (not jinja2, not the brief's
model), as a pre-started renderer process imports it before any brief exists.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pydyf
from weasyprint import HTML, Attachment, Document
from weasyprint.urls import URLFetcher, URLFetcherResponse

from briefing.document.page import (
    PackedFile,
    PdfSource,
    RenderedPdf,
    template_folders,
    w3c_time,
)
from briefing.process import call_with_frame_room

if TYPE_CHECKING:
    from briefing.brief.compose import Brief

EVENTS_ATTACHMENT = "events.json"
#: PDF/A-3, level A: archival (fonts embedded, colours defined, XMP identification), tagged
#: for accessibility, and allowed to carry the events JSON as an associated file.
PDF_VARIANT = "pdf/a-3a"


class TemplateFolderFetcher(URLFetcher):
    """Serves only files inside the template folders and `data:` URLs; refuses all else.

    A relative asset resolves like a template: the user's folder first, then the defaults.
    Paths are resolved, so neither `..` nor a symlink can lead outside a folder.
    """

    def __init__(self, folders: Sequence[Path]) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self.folders = [Path(folder).resolve() for folder in folders]
        self._roots = [*self.folders, *(Path(os.path.abspath(f)) for f in folders)]

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file":
            return self._serve_file(url)
        raise PermissionError(f"refused to fetch {url!r}: only template files and data: URLs")

    def _serve_file(self, url: str) -> URLFetcherResponse:
        parts = urlsplit(url)
        requested = Path(os.path.normpath(url2pathname(parts.path)))
        relative = next(
            (requested.relative_to(root) for root in self._roots if requested.is_relative_to(root)),
            None,
        )
        if parts.netloc not in ("", "localhost") or relative is None:
            raise PermissionError(f"refused to read {url!r}: not inside the template folders")
        for folder in self.folders:
            candidate = (folder / relative).resolve()
            if candidate.is_relative_to(folder) and candidate.is_file():
                content_type = mimetypes.guess_type(candidate.name)[0]
                headers = {"Content-Type": content_type or "application/octet-stream"}
                return URLFetcherResponse(candidate.as_uri(), candidate.read_bytes(), headers)
        raise FileNotFoundError(f"{relative} is in none of the template folders")


def render_pdf(
    brief: Brief,
    *,
    events_json: Callable[[], Iterable[bytes]],
    template_dir: Path | None = None,
    author: str = "briefing",
) -> RenderedPdf:
    """The brief as a tagged PDF/A-3 with title, author, creation date and language, and its
    events (`events_json`, made once the pages are laid out) attached as an associated file
    (AFRelationship /Data)."""
    from briefing.document.render import pdf_source  # jinja2 and the brief's model: see above

    laid_out = lay_out(pdf_source(brief, template_dir=template_dir, author=author))
    return write_pdf(laid_out, PackedFile.pack(events_json()))


@dataclass(frozen=True)
class LaidOut:
    """A brief's pages laid out, waiting for the file they carry."""

    document: Document
    source: PdfSource

    @property
    def pages(self) -> int:
        return len(self.document.pages)


def lay_out(source: PdfSource) -> LaidOut:
    """WeasyPrint's layout of the page, in one pass: the document laid out is the one written.
    WeasyPrint recurses deeply, so it runs with room on the frame stack (also when written)."""
    return call_with_frame_room(_lay_out, source)


def _lay_out(source: PdfSource) -> LaidOut:
    folders = template_folders(source.template_dir)
    base_url = f"{folders[0].resolve().as_uri()}/"
    page = HTML(string=source.html, base_url=base_url, url_fetcher=TemplateFolderFetcher(folders))
    document = page.render(pdf_variant=PDF_VARIANT, pdf_tags=True)
    document.metadata.title = source.title
    document.metadata.authors = [source.author]
    document.metadata.created = document.metadata.modified = w3c_time(source.created)
    return LaidOut(document, source)


def write_pdf(laid_out: LaidOut, events: PackedFile) -> RenderedPdf:
    """The laid-out pages as a PDF/A-3 carrying `events`, already deflated."""
    created = laid_out.source.created.astimezone(UTC)
    placeholder = Attachment(
        string=b"",
        name=EVENTS_ATTACHMENT,
        description=f"Events of {laid_out.source.title}",
        created=created,
        modified=created,
        relationship="Data",
    )
    data = call_with_frame_room(
        laid_out.document.write_pdf,
        attachments=[placeholder],
        pdf_variant=PDF_VARIANT,
        pdf_tags=True,
        finisher=partial(_finish, events=events),
    )
    return RenderedPdf(data=data, pages=laid_out.pages)


def _finish(_document: Document, pdf: pydyf.PDF, *, events: PackedFile) -> None:
    """Put the packed file in the attachment's place, and list it once in the catalogue's /AF
    (WeasyPrint lists it twice; PDF/A wants it once)."""
    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))
    embedded = [
        item
        for item in pdf.objects
        if isinstance(item, pydyf.Stream) and item.extra.get("Type") == "/EmbeddedFile"
    ]
    (stream,) = embedded
    stream.stream = [events.deflated]
    stream.compress = False
    stream.extra["Filter"] = "/FlateDecode"
    stream.extra["Params"]["CheckSum"] = f"<{events.md5}>"
    stream.extra["Params"]["Size"] = events.size
