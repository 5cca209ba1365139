"""Turn a composed brief into HTML and PDF.

Templates come from the user's folder first, then the defaults, so one file can be
overridden or a default extended (`{% extends "default:brief.html" %}`). Event text is
untrusted: autoescape keeps it text, and the PDF renderer may read nothing but files in
the template folders and `data:` URLs, so a brief can never fetch a URL or a local file.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

import jinja2
from weasyprint import HTML, Attachment
from weasyprint.urls import URLFetcher, URLFetcherResponse

from briefing.compose import Brief, Window
from briefing.errors import ConfigError

MAIN_TEMPLATE = "brief.html"
EVENTS_ATTACHMENT = "events.json"
_MINUS = "\u2212"
_NBSP = "\u00a0"
_SCALES = ((1e12, "trillion", "tn"), (1e9, "billion", "bn"), (1e6, "million", "M"))


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


# --- where templates live -------------------------------------------------------------


def default_template_dir() -> Path:
    """The shipped templates: inside the installed package, else the source checkout's."""
    installed = Path(__file__).parent / "templates"
    if installed.is_dir():
        return installed
    return Path(__file__).parent.parent / "templates"


def template_folders(template_dir: Path | None = None) -> list[Path]:
    """The folders searched for templates and assets, user folder first."""
    folders = [default_template_dir()]
    if template_dir is not None:
        user = Path(template_dir)
        if not user.is_dir():
            raise ConfigError(f"template_dir: {user} is not a folder")
        folders.insert(0, user)
    return folders


class TemplateNotFoundError(ConfigError, jinja2.TemplateNotFound):
    """A template is in none of the folders; still a TemplateNotFound for `ignore missing`."""

    def __init__(self, name: str, folders: Sequence[Path]) -> None:
        searched = ", ".join(str(folder) for folder in folders)
        jinja2.TemplateNotFound.__init__(
            self, name, f"template {name!r} not found; searched: {searched}"
        )


class _TemplateLoader(jinja2.ChoiceLoader):
    """User folder, then defaults, then `default:NAME` for the default file itself."""

    def __init__(self, folders: Sequence[Path]) -> None:
        self.folders = list(folders)
        default = jinja2.FileSystemLoader(str(folders[-1]))
        super().__init__(
            [
                *(jinja2.FileSystemLoader(str(folder)) for folder in folders),
                jinja2.PrefixLoader({"default": default}, delimiter=":"),
            ]
        )

    def get_source(self, environment: jinja2.Environment, template: str) -> Any:
        try:
            return super().get_source(environment, template)
        except jinja2.TemplateNotFound:
            raise TemplateNotFoundError(template, self.folders) from None

    def load(self, environment: jinja2.Environment, name: str, globals: Any = None) -> Any:
        try:
            return super().load(environment, name, globals)
        except jinja2.TemplateNotFound:
            raise TemplateNotFoundError(name, self.folders) from None


# --- filters: how numbers and times read in a brief --------------------------------------


def format_number(value: float, compact: bool = False) -> str:
    """116 → '116', 1234 → '1,234', 400000000 → '400 million' (compact: '400M'), 2.5 → '2.5'."""
    magnitude = abs(value)
    for scale, word, short in _SCALES:
        if magnitude >= scale:
            number = _trim(value / scale)
            return f"{number}{short}" if compact else f"{number}{_NBSP}{word}"
    return _trim(value)


def _trim(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def format_quantity(value: float, unit: str = "", compact: bool = False) -> str:
    """A number with its unit: currency codes lead ('USD 400 million'), others follow ('750 km')."""
    number = format_number(value, compact)
    if not unit:
        return number
    if len(unit) == 3 and unit.isalpha() and unit.isupper():
        return f"{unit}{_NBSP}{number}"
    return f"{number}{_NBSP}{unit}"


def format_change(value: float, unit: str = "", compact: bool = False) -> str:
    """A signed change: '+12', '−3' (a true minus), '±0'."""
    if value == 0:
        return "±0"
    return ("+" if value > 0 else _MINUS) + format_quantity(abs(value), unit, compact)


_TIME_FORMATS = {
    "date": lambda t: f"{t.day} {t:%b %Y}",
    "long_date": lambda t: f"{t:%A} {t.day} {t:%B %Y}",
    "datetime": lambda t: f"{t.day} {t:%b %Y %H:%M}",
    "day_time": lambda t: f"{t.day} {t:%b %H:%M}",
    "time": lambda t: f"{t:%H:%M}",
}


def format_time(value: datetime | date, style: str = "datetime") -> str:
    """A date or time as a brief shows it, e.g. '26 Oct 2024 07:00'."""
    if style not in _TIME_FORMATS:
        raise ValueError(f"unknown time style {style!r}; known: {', '.join(_TIME_FORMATS)}")
    return _TIME_FORMATS[style](value)


def format_span(span: timedelta) -> str:
    """A window's length as a reader says it: '24 hours', '7 days', '90 minutes'."""
    minutes = int(span.total_seconds() // 60)
    if minutes % (24 * 60) == 0 and minutes > 24 * 60:
        amount, unit = minutes // (24 * 60), "day"
    elif minutes % 60 == 0:
        amount, unit = minutes // 60, "hour"
    else:
        amount, unit = minutes, "minute"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def utc_offset(value: datetime) -> str:
    """'UTC+03:00' for a time in Kyiv in summer."""
    offset = value.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else _MINUS
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def coverage(window: Window) -> str:
    """'25 Oct 2024 07:00 – 26 Oct 2024 07:00 (Europe/Kyiv, UTC+03:00)'."""
    start, end = window.local_start, window.local_end
    offsets = utc_offset(start)
    if utc_offset(end) != offsets:
        offsets = f"{offsets} → {utc_offset(end)}"
    span = f"{format_time(start)} – {format_time(end)}"
    if offsets == "UTC+00:00" and window.zone.key in ("UTC", "Etc/UTC"):
        return f"{span} (UTC)"
    return f"{span} ({window.zone.key}, {offsets})"


def anchor(event_id: str) -> str:
    """A safe, stable HTML id for an event, whatever characters its id holds."""
    return "ev-" + hashlib.sha256(event_id.encode()).hexdigest()[:12]


def is_web_address(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def template_environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The jinja2 environment of briefs and emails: escaped by default, strict, with filters."""
    environment = jinja2.Environment(
        loader=_TemplateLoader(template_folders(template_dir)),
        autoescape=jinja2.select_autoescape(("html", "htm", "xml"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        number=format_number,
        quantity=format_quantity,
        change=format_change,
        time=format_time,
        utc_offset=utc_offset,
        span=format_span,
        coverage=coverage,
        anchor=anchor,
    )
    environment.tests["web_address"] = is_web_address
    return environment


# --- HTML -----------------------------------------------------------------------------------


def document_title(brief: Brief) -> str:
    """The title a reader sees in a PDF viewer or mail client: brief title and edition date."""
    return f"{brief.title} — {format_time(brief.edition_date, 'date')}"


def render_html(brief: Brief, *, template_dir: Path | None = None, author: str = "briefing") -> str:
    """The brief as one self-contained HTML page (its stylesheet inlined)."""
    environment = template_environment(template_dir)
    try:
        return environment.get_template(MAIN_TEMPLATE).render(
            brief=brief,
            author=author,
            document_title=document_title(brief),
            figure_specs={figure.name: figure for figure in brief.figures},
            headings={section.category: section.heading for section in brief.sections},
            created=_w3c_time(brief.generated_at),
        )
    except TemplateNotFoundError:
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{exc.filename or exc.name}:{exc.lineno}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"{_template_location(exc)}{exc.message or exc}") from None


def _template_location(exc: Exception) -> str:
    """'file:line: ' of the innermost template frame, so a user can fix their template."""
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename.endswith((".html", ".css", ".txt", ".xml"))
    ]
    return f"{frames[-1].filename}:{frames[-1].lineno}: " if frames else ""


def _w3c_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- PDF ------------------------------------------------------------------------------------


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


def events_document(brief: Brief) -> dict[str, Any]:
    """The machine-readable content of a brief, embedded in its PDF."""
    return {
        "brief": brief.name,
        "title": brief.title,
        "window": {
            "start": brief.window.start.isoformat(),
            "end": brief.window.end.isoformat(),
            "timezone": brief.window.zone.key,
        },
        "generated_at": brief.generated_at.isoformat(),
        "events": [event.model_dump(mode="json") for event in brief.events],
    }


def render_pdf(
    brief: Brief, *, template_dir: Path | None = None, author: str = "briefing"
) -> RenderedPdf:
    """The brief as a PDF with title, author and creation date, and its events attached.

    One layout pass: the page count comes from the rendered document that is written.
    """
    html = render_html(brief, template_dir=template_dir, author=author)
    folders = template_folders(template_dir)
    fetcher = TemplateFolderFetcher(folders)
    document = HTML(string=html, base_url=f"{folders[0].resolve().as_uri()}/", url_fetcher=fetcher)
    rendered = document.render()
    rendered.metadata.title = document_title(brief)
    rendered.metadata.authors = [author]
    rendered.metadata.created = rendered.metadata.modified = _w3c_time(brief.generated_at)
    payload = json.dumps(events_document(brief), ensure_ascii=False, indent=1).encode()
    created = brief.generated_at.astimezone(UTC)
    attachment = Attachment(
        string=payload,
        name=EVENTS_ATTACHMENT,
        description=f"Events of {document_title(brief)}",
        created=created,
        modified=created,
        url_fetcher=fetcher,
        relationship="Data",
    )
    data = rendered.write_pdf(attachments=[attachment])
    return RenderedPdf(data=data, pages=len(rendered.pages))
