"""Turn a composed brief into HTML (`briefing.pdf` makes the PDF from it).

Templates come from the user's folder first, then the defaults, so one file can be
overridden or a default extended (`{% extends "default:brief.html" %}`). Event text is
untrusted: autoescape keeps it text, and the PDF renderer may read nothing but files in
the template folders and `data:` URLs, so a brief can never fetch a URL or a local file.
"""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2

from briefing.compose import Brief, Window
from briefing.errors import ConfigError

MAIN_TEMPLATE = "brief.html"
_MINUS = "\u2212"
_NBSP = "\u00a0"
_SCALES = ((1e12, "trillion", "tn"), (1e9, "billion", "bn"), (1e6, "million", "M"))


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
        self.folders = list(folders)
        searched = ", ".join(str(folder) for folder in folders)
        jinja2.TemplateNotFound.__init__(
            self, name, f"template {name!r} not found; searched: {searched}"
        )

    def __reduce__(self) -> tuple:
        """Rebuilt from its own arguments when it crosses from a rendering process."""
        return (type(self), (self.name, self.folders))


@dataclass(frozen=True)
class RenderedPdf:
    data: bytes
    pages: int


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
    return render_template(
        template_environment(template_dir),
        MAIN_TEMPLATE,
        brief=brief,
        author=author,
        document_title=document_title(brief),
        figure_specs={f.name: replace(f, label=f.name_label) for f in brief.figures},
        headings={section.category: section.heading for section in brief.sections},
        created=w3c_time(brief.generated_at),
    )


def render_template(environment: jinja2.Environment, name: str, **context: Any) -> str:
    """One template rendered; a broken or missing template is a ConfigError saying where."""
    try:
        return environment.get_template(name).render(**context)
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


def w3c_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
