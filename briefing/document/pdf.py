"""Turn a composed brief into a PDF that can read nothing but its own template files.

Kept apart from `briefing.document.render` so that what needs only HTML or templates (email,
and the process that hands a brief to a pre-started renderer) does not load WeasyPrint; and
importing it loads WeasyPrint and `briefing.document.page` only (not jinja2, not the brief's
model), as a pre-started renderer process imports it before any brief exists.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher, URLFetcherResponse

from briefing.document.page import PdfSource, RenderedPdf, template_folders, w3c_time

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


def _associate_each_file_once(document: Any, pdf: Any) -> None:
    """WeasyPrint lists the attachment twice in the catalogue's /AF; PDF/A wants it once."""
    import pydyf

    if "AF" in pdf.catalog:
        pdf.catalog["AF"] = pydyf.Array(dict.fromkeys(pdf.catalog["AF"]))


def render_pdf(
    brief: Brief, *, template_dir: Path | None = None, author: str = "briefing"
) -> RenderedPdf:
    """The brief as a tagged PDF/A-3 with title, author, creation date and language, and its
    events attached as an associated file (AFRelationship /Data)."""
    from briefing.document.render import pdf_source  # jinja2 and the brief's model: see above

    return pdf_from_source(pdf_source(brief, template_dir=template_dir, author=author))


def pdf_from_source(source: PdfSource) -> RenderedPdf:
    """WeasyPrint's part of a render, in one layout pass: the page count comes from the
    rendered document that is written."""
    folders = template_folders(source.template_dir)
    fetcher = TemplateFolderFetcher(folders)
    base_url = f"{folders[0].resolve().as_uri()}/"
    document = HTML(string=source.html, base_url=base_url, url_fetcher=fetcher)
    rendered = document.render(pdf_variant=PDF_VARIANT, pdf_tags=True)
    rendered.metadata.title = source.title
    rendered.metadata.authors = [source.author]
    rendered.metadata.created = rendered.metadata.modified = w3c_time(source.created)
    created = source.created.astimezone(UTC)
    attachment = Attachment(
        string=source.events_json,
        name=EVENTS_ATTACHMENT,
        description=f"Events of {source.title}",
        created=created,
        modified=created,
        url_fetcher=fetcher,
        relationship="Data",
    )
    data = rendered.write_pdf(
        attachments=[attachment],
        pdf_variant=PDF_VARIANT,
        pdf_tags=True,
        finisher=_associate_each_file_once,
    )
    return RenderedPdf(data=data, pages=len(rendered.pages))
