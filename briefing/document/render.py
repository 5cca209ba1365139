"""Turn a composed brief into HTML (`briefing.document.pdf` makes the PDF from it).

Templates come from the user's folder first, then the defaults, so one file can be
overridden or a default extended (`{% extends "default:brief.html" %}`). Event text is
untrusted: autoescape keeps it text, and the PDF renderer may read nothing but files in
the template folders and `data:` URLs, so a brief can never fetch a URL or a local file.
"""

from __future__ import annotations

import hashlib
import math
import re
import traceback
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from briefing.brief.compose import Brief, Window
from briefing.document.page import PdfSource, template_folders, w3c_time
from briefing.errors import ConfigError

MAIN_TEMPLATE = "brief.html"
_MINUS = "\u2212"
_NBSP = "\u00a0"


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


# --- filters: how numbers, money, dates and text read in a brief ---------------------------
# Babel formats by the brief's locale (its `locale` setting, read from the template context);
# every filter is a plain function, so it also works in a sandboxed environment.

DEFAULT_LOCALE = "en_GB"
_COMPACT_FROM, _COMPACT_UNTIL = 1e6, 1e15


def _context_locale(context: Any) -> str:
    brief = context.get("brief") if context is not None else None
    return getattr(brief, "locale", None) or DEFAULT_LOCALE


def _readable(value: float) -> float:
    """Negative zero and values that would print as 0 become 0, so no '−0' is ever shown."""
    value = float(value)
    return 0.0 if abs(value) < 0.005 else value


def format_number(value: float, locale: str = DEFAULT_LOCALE) -> str:
    """116 → '116', 1234.5 → '1,234.5', 4e8 → '400 million', 2e18 → '2E18'; a true minus."""
    from babel import numbers

    value = _readable(value)
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= _COMPACT_UNTIL:
        text = numbers.format_scientific(value, format="0.##E0", locale=locale)
    elif magnitude >= _COMPACT_FROM:
        text = numbers.format_compact_decimal(
            value, format_type="long", fraction_digits=2, locale=locale
        )
    else:
        text = numbers.format_decimal(value, format="#,##0.##", locale=locale)
    return text.replace("-", _MINUS).replace(" ", _NBSP)


def format_quantity(
    value: float,
    unit: str = "",
    qualifier: str | None = None,
    upper: float | None = None,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """'approximately 116', 'US$400 million', '750 km', '45–52%': currency symbols lead."""
    from babel import numbers

    number = format_number(value, locale)
    if upper is not None and math.isfinite(upper) and upper != value:
        number = f"{number}–{format_number(upper, locale)}"
    if _is_currency(unit):
        number = f"{numbers.get_currency_symbol(unit, locale)}{number}"
    elif unit == "%":
        number = f"{number}%"
    elif unit:
        number = f"{number}{_NBSP}{unit}"
    return f"{qualifier}{_NBSP}{number}" if qualifier else number


def _is_currency(unit: str) -> bool:
    return len(unit) == 3 and unit.isalpha() and unit.isupper()


def format_change(value: float, unit: str = "", locale: str = DEFAULT_LOCALE) -> str:
    """A signed change: '+12', '−3' (a true minus), '±0' when it would print as 0."""
    value = _readable(value)
    if value == 0 or not math.isfinite(value):
        return "±0"
    return ("+" if value > 0 else _MINUS) + format_quantity(abs(value), unit, locale=locale)


def change_direction(value: float | None) -> str:
    """'up', 'down' or 'same', judged on the change as it is printed."""
    if value is None:
        return "none"
    value = _readable(value)
    return "up" if value > 0 else "down" if value < 0 else "same"


def format_time(
    value: datetime | date, style: str = "datetime", locale: str = DEFAULT_LOCALE
) -> str:
    """A date or time as a brief shows it in its locale, e.g. '26 Oct 2024, 07:00'."""
    from babel import dates

    if style not in _TIME_STYLES:
        raise ValueError(f"unknown time style {style!r}; known: {', '.join(_TIME_STYLES)}")
    day_part, time_part = _TIME_STYLES[style]
    parts = []
    if day_part == "full":
        parts.append(dates.format_date(value, "full", locale=locale))
    elif day_part:
        parts.append(dates.format_skeleton(day_part, value, locale=locale))
    if time_part:
        parts.append(dates.format_skeleton(time_part, value, locale=locale))
    if len(parts) == 2:
        # Babel annotates a DateTimePattern but returns the locale's plain "{1}, {0}" string.
        combined = str(dates.get_datetime_format("medium", locale=locale))
        return combined.format(parts[1], parts[0])
    return parts[0]


_TIME_STYLES = {
    "date": ("yMMMd", None),
    "short_date": ("MMMd", None),
    "long_date": ("full", None),
    "datetime": ("yMMMd", "Hm"),
    "day_time": ("MMMd", "Hm"),
    "time": (None, "Hm"),
}


def country_name(code: str, locale: str = DEFAULT_LOCALE) -> str:
    """'UA' → 'Ukraine' in the brief's language; an unknown code is shown as given."""
    from babel import Locale

    return Locale.parse(locale).territories.get(code.upper(), code)


def typographic(text: str | None) -> str:
    """Curly quotes and apostrophes, dashes and ellipses (SmartyPants), as plain characters.

    The result is still plain text: autoescape makes it safe markup afterwards.
    """
    import smartypants

    if not text:
        return ""
    return smartypants.smartypants(text, smartypants.Attr.default | smartypants.Attr.u)


_SENTENCE_END = re.compile(r"[.!?…][”’\"')\]]*(?=\s+[A-Z“‘\"(0-9])")
_ABBREVIATION = re.compile(r"(?:[A-Z]\.)+|(?:Mr|Mrs|Ms|Dr|St|No|Gen|Lt|Col|Sgt|Gov|Sen|Rep)\.")


def first_sentence(text: str) -> str:
    """The first sentence of a summary (up to '.', '!' or '?' before a capital), else all.

    'U.S.' or 'Gen.' do not end a sentence.
    """
    text = text.strip()
    for end in _SENTENCE_END.finditer(text):
        last_word = text[: end.start() + 1].split()[-1]
        if not _ABBREVIATION.fullmatch(last_word):
            return text[: end.end()]
    return text


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


def coverage(window: Window, locale: str = DEFAULT_LOCALE) -> str:
    """'25 Oct 2024, 07:00 – 26 Oct 2024, 07:00 (Europe/Kyiv, UTC+03:00)'."""
    start, end = window.local_start, window.local_end
    offsets = utc_offset(start)
    if utc_offset(end) != offsets:
        offsets = f"{offsets} → {utc_offset(end)}"
    span = f"{format_time(start, locale=locale)} – {format_time(end, locale=locale)}"
    if offsets == "UTC+00:00" and window.zone.key in ("UTC", "Etc/UTC"):
        return f"{span} (UTC)"
    return f"{span} ({window.zone.key}, {offsets})"


def trend_chart(
    points: Sequence[Any], last_day: date, days: int, width: int = 120, height: int = 28
) -> dict[str, Any]:
    """Where a sparkline's points fall in a `width`×`height` box over `days` days.

    Returns the polyline's points, the last point (marked), and the range shown.
    A hand-drawn SVG (templates/partials/_trend.html) costs microseconds; a plotting
    library cost more than the whole budget of a brief's generation (see README).
    """
    first_day = last_day - timedelta(days=days - 1)
    shown = [p for p in points if first_day <= p.day <= last_day and math.isfinite(p.value)]
    if len(shown) < 2:
        return {"points": "", "last": None, "low": None, "high": None}
    values = [p.value for p in shown]
    low, high = min(values), max(values)
    spread = (high - low) or 1.0
    step = (width - 4) / max(days - 1, 1)

    def place(point: Any) -> tuple[float, float]:
        x = 2 + (point.day - first_day).days * step
        y = 2 + (height - 4) * (1 - (point.value - low) / spread)
        return round(x, 1), round(y, 1)

    placed = [place(p) for p in shown]
    return {
        "points": " ".join(f"{x},{y}" for x, y in placed),
        "last": placed[-1],
        "low": low,
        "high": high,
    }


def anchor(event_id: str) -> str:
    """A safe, stable HTML id for an event, whatever characters its id holds."""
    return "ev-" + hashlib.sha256(event_id.encode()).hexdigest()[:12]


def is_web_address(url: str | None) -> bool:
    return bool(url) and urlsplit(url).scheme in ("http", "https")


def _in_brief_locale(function: Any) -> Any:
    """The filter `function` given the locale of the brief being rendered (else en_GB)."""

    @jinja2.pass_context
    def localised(context: Any, value: Any, *args: Any, **kwargs: Any) -> str:
        return function(value, *args, locale=_context_locale(context), **kwargs)

    return localised


@lru_cache(maxsize=1)
def _compiled_templates() -> jinja2.BytecodeCache | None:
    """Templates compiled once per user and kept (in jinja2's private folder under the system's
    temporary one, recompiled when a template's source changes): compiling the brief's took
    a tenth of a second of every command that renders one."""
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):  # no safe private folder: compile every time
        return None


def template_environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The jinja2 environment of briefs and emails: sandboxed, escaped by default, strict.

    A user's template folder is code run on every brief: the sandbox lets a template format
    the data it is given and nothing more (no `__globals__`, no Python internals, no changing
    the brief), so a template cannot run commands or read files.
    """
    environment = ImmutableSandboxedEnvironment(
        loader=_TemplateLoader(template_folders(template_dir)),
        bytecode_cache=_compiled_templates(),
        autoescape=jinja2.select_autoescape(("html", "htm", "xml"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        number=_in_brief_locale(format_number),
        quantity=_in_brief_locale(format_quantity),
        change=_in_brief_locale(format_change),
        time=_in_brief_locale(format_time),
        coverage=_in_brief_locale(coverage),
        country=_in_brief_locale(country_name),
        direction=change_direction,
        typo=typographic,
        first_sentence=first_sentence,
        trend_chart=trend_chart,
        utc_offset=utc_offset,
        span=format_span,
        anchor=anchor,
    )
    environment.tests["web_address"] = is_web_address
    return environment


# --- HTML -----------------------------------------------------------------------------------


def document_title(brief: Brief) -> str:
    """The title a reader sees in a PDF viewer or mail client: brief title and edition date."""
    return f"{brief.title} — {format_time(brief.edition_date, 'date', brief.locale)}"


def render_html(
    brief: Brief,
    *,
    template_dir: Path | None = None,
    author: str = "briefing",
    for_screen: bool = False,
    template: str = MAIN_TEMPLATE,
    **context: Any,
) -> str:
    """The brief as one self-contained HTML page (its stylesheet inlined).

    `for_screen` (HTML editions, web pages) adds a viewport and the screen stylesheet; the
    print stylesheet still applies when the page is printed or rendered to PDF. `template`
    names a page that extends the brief's, e.g. the web archive's edition page, and `context`
    is what that page needs besides the brief.
    """
    return render_template(
        _environment_for(template_dir),
        template,
        brief=brief,
        author=author,
        for_screen=for_screen,
        document_title=document_title(brief),
        figures_by_name={f.name: replace(f, label=f.name_label) for f in brief.figures},
        headings={section.category: section.heading for section in brief.sections},
        span=format_span(brief.window.end - brief.window.start),
        created=w3c_time(brief.generated_at),
        **context,
    )


def prepare_templates(template_dir: Path | None, locale: str) -> None:
    """Load what filling the brief's templates costs only the first time (the compiled page and
    its partials, Babel's dates and the locale's data: 30 ms), so that a renderer process can
    do so while its brief is being composed."""
    environment = template_environment(template_dir)
    for name in environment.list_templates(filter_func=_part_of_the_page):
        environment.get_template(name)
    format_time(datetime.now().astimezone(), "date", locale)
    format_number(0.5, locale)
    _prepared[template_dir] = environment


def _part_of_the_page(name: str) -> bool:
    return name == MAIN_TEMPLATE or name.startswith("partials/") or name.endswith(".css")


_prepared: dict[Path | None, jinja2.Environment] = {}


def _environment_for(template_dir: Path | None) -> jinja2.Environment:
    """The environment prepared for the next page of `template_dir`, else a new one: a new one
    each time, so that a file added to a template folder counts from the next page on."""
    return _prepared.pop(template_dir, None) or template_environment(template_dir)


def pdf_source(
    brief: Brief, *, template_dir: Path | None = None, author: str = "briefing"
) -> PdfSource:
    return PdfSource(
        html=render_html(brief, template_dir=template_dir, author=author),
        title=document_title(brief),
        author=author,
        created=brief.generated_at,
        template_dir=template_dir,
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
