"""Articles → developments → events: reading the input, then splitting it into what happened.

An article is cut into paragraphs and sentences. Within a paragraph, sentences stay together
unless one clearly belongs to another category than the sentences before it and does not
continue them ("He added…", "In response…"). A group that reports nothing (no reporting verb,
no figure) is commentary and is dropped. Each remaining group becomes one event.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from briefing.config import Settings
from briefing.errors import InputError, validation_problems
from briefing.event import Event, without_control_characters
from briefing.ingest.classify import Lexicon, lexicon_for
from briefing.ingest.dedupe import store_events
from briefing.ingest.figures import extract_figures
from briefing.store import Store

TITLE_LENGTH = 160
_HTML = re.compile(
    r"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|article)\b", re.I | re.S
)
_ABBREVIATIONS = {
    *("u.s", "u.k", "u.n", "e.u", "mr", "mrs", "ms", "dr", "gen", "lt", "col", "maj", "sgt"),
    *("st", "no", "vs", "etc", "e.g", "i.e", "approx", "jan", "feb", "mar", "apr", "jun"),
    *("jul", "aug", "sep", "sept", "oct", "nov", "dec", "gov", "sen", "rep", "prof"),
}
_BOUNDARY = re.compile(r"[.!?][\"”’)\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_ENDS_SENTENCE = re.compile(r"[.!?][\"”’)\]]*$")
_REPORTING = re.compile(
    r"\b(?:said|says|told|reported|reports|reportedly|according to|announced|confirmed|stated|"
    r"claimed|warned|made|met|held|hit|struck|shot|sent|gave|took|began|fell|led|won|lost|"
    r"brought|fought|paid|signed|spoke|beat)\b|\b(?:has|have|had|was|were)\s+"
    r"(?:(?:\w+ly|not|also|already|been)\s+)*[a-z]+(?:ed|en|wn|de|ck|ld|ne|id|ht|ut|ot)\b",
)
_PAST = re.compile(r"\b([A-Za-z]+)\s+(?:[a-z]+ly\s+)?([a-z]{2,}ed)\b")
_NOT_SUBJECT = {
    *("the", "a", "an", "this", "these", "those", "its", "their", "his", "her", "our"),
    *("of", "and", "or", "for", "with", "in", "on", "at", "by", "to", "from", "as", "is"),
    *("are", "be", "newly", "well", "long", "so", "very", "most", "more"),
}
_CONTINUES = re.compile(
    r"^(?:in response|in return|it said|also)\b|"
    r"^(?:\S+\s+)?(?:he|she|they|it|his|her|their|its|this|these|those|such)\b",
    re.IGNORECASE,
)
# A paragraph that refers back ("He added…", "35 of them…", "…, it said") may go on the last one.
_CONTINUES_PARAGRAPH = re.compile(
    r"^(?:he|she|they|it|of these|of those)\b|\bof them\b|, (?:it|he|she|they) (?:said|added)\b",
    re.IGNORECASE,
)
_LEAD = re.compile(
    r"^(?:As|While|Although|Despite|Amid|Amidst|Additionally|Meanwhile|However|Also|Separately|"
    r"Elsewhere|Overall|Furthermore|Moreover|Earlier|Later|Following|After|During|In addition|"
    r"In response|In a separate \w+|In another \w+|In the midst of)\b[^,]{0,80},\s+"
)
_PERSON = re.compile(
    r"\b(?:President|Prime Minister|Foreign Minister|Defen[cs]e Minister|Minister|"
    r"Secretary[- ]General|Secretary of (?:Defen[cs]e|State)|Chancellor|Commander|General|"
    r"Ambassador|Spokes(?:man|woman|person)|Mayor|Governor)\s+"
    r"([A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+){1,2})"
)
_PRONOUN = re.compile(r"^(?:he|she)\b", re.IGNORECASE)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTH_NAMES = [
    *(("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",)),
    *(("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept")),
    *(("october", "oct"), ("november", "nov"), ("december", "dec")),
]
_MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WHEN = re.compile(
    rf"\b(?P<night>overnight|last night|during the night|early hours)\b"
    rf"|\b(?P<yesterday>yesterday)\b|\b(?P<today>today|this morning|this afternoon)\b"
    rf"|\b(?P<weekday>{'|'.join(_WEEKDAYS)})\b"
    rf"|\b(?:(?P<day1>\d{{1,2}})\s+(?P<month1>{_MONTH})\.?|(?P<month2>{_MONTH})\.?\s+"
    rf"(?P<day2>\d{{1,2}})(?!\d|,?\s*\d{{3}}))\b",
    re.IGNORECASE,
)
NIGHT_HOUR = 3


def article_text(data: bytes | str, name: str) -> str:
    """The article as plain text; HTML is reduced to its main text. Bad input names `name`."""
    if isinstance(data, bytes):
        data = _decode(data, name)
    if not data.strip():
        raise InputError(f"{name}: empty input")
    if _HTML.match(data):
        import trafilatura

        extracted = trafilatura.extract(data, include_comments=False, include_tables=False)
        if not extracted or not re.search(r"\w[.!?]", extracted):
            raise InputError(f"{name}: no article text found in the HTML")
        return extracted
    return data


def _decode(data: bytes, name: str) -> str:
    sample = data[:8192]
    controls = sum(byte < 32 and byte not in b"\t\n\r\f" for byte in sample)
    if b"\x00" in sample or controls > len(sample) // 100:
        raise InputError(f"{name}: binary data, not text or HTML")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None:
            raise InputError(f"{name}: not readable text (unknown encoding)") from None
        return str(best)


def read_article(path: str) -> str:
    """The text of a file, or of standard input for '-'."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return article_text(data, "stdin" if path == "-" else path)


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks (inner line breaks joined), or lines when there are none."""
    text = without_control_characters(text.replace("\r\n", "\n").replace("\r", "\n"))
    blocks = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else text.split("\n")
    return [" ".join(block.split()) for block in blocks if block.strip()]


def sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph, not broken after 'U.S.', 'Gen.' or an initial."""
    found, start = [], 0
    for match in _BOUNDARY.finditer(paragraph):
        word = paragraph[start : match.start()].split()[-1:] or [""]
        token = word[0].lstrip('("“‘').lower()
        if token in _ABBREVIATIONS or re.fullmatch(r"[a-z]", token):
            continue
        found.append(paragraph[start : match.start() + 1].strip())
        start = match.end()
    found.append(paragraph[start:].strip())
    return [sentence for sentence in found if sentence]


def reports_something(sentence: str) -> bool:
    """Whether a sentence tells what happened (a past or reported act), not commentary."""
    if _REPORTING.search(sentence):
        return True
    return any(m.group(1).lower() not in _NOT_SUBJECT for m in _PAST.finditer(sentence))


@dataclass
class Development:
    """Consecutive sentences about one thing, with each sentence's own category scores."""

    sentences: list[str]
    scores: list[dict[str, float]]
    label: str | None
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def find_developments(text: str, lexicon: Lexicon, categories: list[str]) -> list[Development]:
    """The developments an article reports, in the order it reports them."""
    groups: list[Development] = []
    for paragraph in paragraphs(text):
        if not _ENDS_SENTENCE.search(paragraph):
            continue  # a headline, a byline, a list of links
        for index, sentence in enumerate(sentences(paragraph)):
            result = lexicon.classify(sentence, categories, extract_figures(sentence))
            label = result.category if result.strength >= lexicon.min_score else None
            current = groups[-1] if groups else None
            if current and _joins(sentence, index, current.label, label):
                current.sentences.append(sentence)
                current.scores.append(result.scores)
                current.label = current.label or label
            else:
                groups.append(Development([sentence], [result.scores], label))
    kept = []
    for group in groups:
        group.figures = extract_figures(group.text)
        if group.figures or any(reports_something(s) for s in group.sentences):
            kept.append(group)
    return kept


def _joins(sentence: str, index: int, current: str | None, label: str | None) -> bool:
    """Whether a sentence goes on the development before it rather than starting one."""
    agrees = not (current and label and current != label)
    if index == 0:
        return agrees and bool(_CONTINUES_PARAGRAPH.search(sentence))
    return agrees or bool(_CONTINUES.match(sentence))


def people_in(text: str) -> list[str]:
    """Named office holders: 'President Volodymyr Zelensky' → 'Volodymyr Zelensky'."""
    return list(dict.fromkeys(match.group(1) for match in _PERSON.finditer(text)))


def title_for(group: Development, category: str) -> str:
    """The sentence that says most about the category, without its lead clause, kept short."""
    scored = zip(group.scores, group.sentences, strict=True)
    _, sentence = max(scored, key=lambda pair: pair[0].get(category, 0))
    sentence = _LEAD.sub("", sentence, count=1)
    if _PRONOUN.match(sentence):
        people = people_in(group.text)
        sentence = _PRONOUN.sub(people[0], sentence, count=1) if people else sentence
    sentence = sentence[:1].upper() + sentence[1:]
    return shorten(sentence.rstrip("."))


def shorten(sentence: str, limit: int = TITLE_LENGTH) -> str:
    """Cut at the last clause break (or word) before the limit."""
    if len(sentence) <= limit:
        return sentence
    clause = sentence.rfind(", ", 0, limit)
    if clause > limit // 3:
        return sentence[:clause]
    return sentence[: sentence.rfind(" ", 0, limit - 1)] + "…"


def occurred_at(text: str, published: datetime, has_clock: bool) -> tuple[datetime, str | None]:
    """When it happened, from the first time phrase, resolved against the publication time."""
    match = _WHEN.search(text)
    day = published.date()
    zone = published.tzinfo
    if match is None:
        return published, None
    if match["night"]:
        night = datetime.combine(day, time(NIGHT_HOUR), zone)
        if has_clock and night > published:  # published at 1 a.m.: the night before
            night -= timedelta(days=1)
        return night, match.group(0)
    if match["yesterday"]:
        day -= timedelta(days=1)
    elif match["weekday"]:
        back = (day.weekday() - _WEEKDAYS.index(match["weekday"].lower())) % 7
        day -= timedelta(days=back)
    elif match["day1"] or match["day2"]:
        day = _calendar_day(match, day)
        if day is None:
            return published, None
    elif has_clock:
        return published, match.group(0)
    return datetime.combine(day, time(), zone), match.group(0)


def _calendar_day(match: re.Match[str], published: date) -> date | None:
    month = _MONTHS[(match["month1"] or match["month2"]).lower()]
    number = int(match["day1"] or match["day2"])
    for year in (published.year, published.year - 1):
        try:
            candidate = date(year, month, number)
        except ValueError:
            return None
        if candidate <= published:
            return candidate
    return None


def _local(published: date | datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    if isinstance(published, datetime):
        aware = published if published.tzinfo else published.replace(tzinfo=zone)
        return aware.astimezone(zone), True
    return datetime.combine(published, time(), zone), False


def extract_events(
    text: str,
    *,
    published: date | datetime,
    source: str,
    url: str | None,
    settings: Settings,
) -> list[Event]:
    """The events one article reports; no I/O.

    `text` is the article as `article_text` (or `read_article`) gives it: read once, where a
    bad input can still be named by its file or address.
    """
    lexicon = lexicon_for(settings)
    zone = ZoneInfo(settings.timezone)
    when, has_clock = _local(published, zone)
    categories = list(settings.categories)
    context = {"zone": zone, "categories": categories}
    events: dict[str, Event] = {}
    for group in find_developments(text, lexicon, categories):
        result = lexicon.classify(group.text, categories, group.figures)
        at, phrase = occurred_at(group.text, when, has_clock)
        place = lexicon.place_in(group.text)
        record = {
            "occurred_at": at,
            "category": result.category,
            "title": title_for(group, result.category),
            "summary": group.text,
            "location": {"place": place[0], "country": place[1]} if place else {},
            "actors": [*people_in(group.text), *lexicon.actors_in(group.text)],
            "figures": group.figures,
            "sources": [{"name": source, "url": url}],
            "classification": {**result.as_record(lexicon.min_score), "time_phrase": phrase},
        }
        try:
            event = Event.model_validate(record, context=context)
        except ValidationError as exc:
            field, message = validation_problems(exc)[0]
            raise InputError(f"an event found in the text is refused: {field}: {message}") from None
        events.setdefault(event.id, event)
    return list(events.values())


@dataclass(frozen=True)
class IngestReport:
    """What one article gave: its events, and how the store took them."""

    name: str
    events: list[Event]
    added: int = 0
    updated: int = 0
    merged: int = 0


def ingest_text(
    settings: Settings,
    store: Store,
    text: str,
    *,
    published: date | datetime,
    source: str,
    url: str | None = None,
    name: str | None = None,
) -> IngestReport:
    """Extract an article's events and store them, folding in what other sources reported.

    `text` is plain text, as `article_text` gives it.
    """
    events = extract_events(text, published=published, source=source, url=url, settings=settings)
    with store.session() as session:
        counts = store_events(session, events, ZoneInfo(settings.timezone))
    return IngestReport(name or source, events, counts.added, counts.updated, counts.merged)
