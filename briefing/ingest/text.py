"""Articles → developments → events: reading the input, then splitting it into what happened.

An article is cut into paragraphs, bullets (`-`, `•`, `*`, `1.`) and live-blog entries, then
sentences; a sentence that joins two developments of different kinds ("allocated €500 million
in aid and adopted sanctions") is cut at the join. Within a paragraph, sentences stay together
unless one belongs to another category than the sentences before it and does not continue them
("He added…"). Headlines, time stamps, framing ("This is our live coverage…") and commentary
that reports no act are dropped; a paragraph without a final stop is kept when it reports one.
docs/codebook.md says what a development is; each becomes one event.
"""

from __future__ import annotations

import re
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from briefing.config import MAX_ARTICLE_BYTES, Settings
from briefing.errors import InputError, validation_problems
from briefing.event import Event, FigureNote, without_control_characters
from briefing.ingest.classify import Classification, Lexicon, lexicon_for
from briefing.ingest.dedupe import store_events
from briefing.ingest.figures import Figure, find_figures
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
    r"brought|fought|paid|signed|spoke|beat|found|showed|laid|sought|spent|built|sold|bought|"
    r"left|kept|stood|flew|rose|set|put|cut|heard|saw|came|went|became)\b|\b(?:has|have|had|was|were)\s+"
    r"(?:(?:\w+ly|not|also|already|been)\s+)*[a-z]+(?:ed|en|wn|de|ck|ld|ne|id|ht|ut|ot)\b",
)
_PAST = re.compile(r"\b([^\W\d_]+)\s+(?:[a-z]+ly\s+)?([a-z]{2,}ed)\b")
# A statement in the present, as ministries write them: "The Ministry condemns…"
_STATEMENT = re.compile(
    r"\b(?:condemn(?:s|ed)|urge[sd]|demand(?:s|ed)|welcome[sd]|announces|reject(?:s|ed)|"
    r"denounce[sd]|express(?:es|ed)|calls on|called on|called for|"
    r"calls for|protests|reiterates|strongly)\b"
)
_PAST_VERB = re.compile(
    r"\b(?:[a-z]{3,}ed|met|hit|struck|shot|sent|took|held|led|said|told|fled|sank|lost|won|"
    r"gave|made|fell|began|spoke|signed|paid)\b"
)
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
    r"^(?:he|she|they|it|of these|of those)\b|\bof them\b|, (?:it|he|she|they) (?:said|added)\b"
    r"|^under (?:the|this|that) (?:package|deal|agreement|plan|programme|program|scheme)\b",
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
HEADLINE_WORDS = 8
LONGEST_SENTENCE = 1500
TITLE_CASE = 0.75
MANY_KILLED = 10
LARGE_ATTACK = 100
LARGE_PLEDGE = 1e9
_BACKGROUND = re.compile(r"\b(?:since|from|until|as of|by|before|through)\s+(?:the\s+)?$", re.I)
_BULLET = re.compile(r"^\s*(?:[-–—•*▪●◦]|\d{1,2}[.)])\s+")
_INLINE_BULLET = re.compile(r"\s+[•▪●]\s+|^\s*[•▪●]\s+")
_STAMP = re.compile(
    r"^(?:\d{1,2}[:.]\d{2}(?:\s*(?:[ap]\.?m\.?|GMT|UTC|BST|CET|CEST|EET|EEST|ET|local))?"
    r"|(?:GMT|UTC)\s*\d{1,2}[:.]\d{2})\s*[-–—:]?\s*",
    re.IGNORECASE,
)
_ONLY_STAMP = re.compile(r"[\d:.\s]*(?:GMT|UTC|[ap]\.?m\.?)?", re.IGNORECASE)
# "KYIV, March 10 (Wire) - ", "KRAMATORSK, 20 September 2024 - "
_DATELINE = re.compile(
    r"^[A-Z][A-Z .'’-]{2,30}(?:,\s*[A-Z][A-Za-z]*\.?\s*\d{1,2}(?:,\s*\d{4})?|,\s*\d{1,2}\s+"
    r"[A-Z][a-z]+\.?(?:\s+\d{4})?)?\s*(?:\([^)]{1,40}\))?\s*[-–—]\s+(?=[A-Z\d\"“])"
)
_LABEL = re.compile(r"^(?:[A-Z][\w'’-]*(?:\s+[\w'’-]+){0,2}):\s+(?=[A-Z\d])")
_COMMENTARY = re.compile(
    r"^(?:Analysis|Comment|Commentary|Background|Context|Opinion|Editor'?s note|Note|"
    r"(?:Our |Overall |Key )?Assessment|Outlook|Forecast|Bottom line|Looking ahead|"
    r"Why it matters|What (?:it|this) means|What to watch)\b",
    re.I,
)
# A section heading ("STRIKES", "FRONT LINE", "OUR ASSESSMENT"): short, in capitals, no stop.
_SECTION = re.compile(r"[A-Z][A-Z&/ '’-]{2,40}")
_FRAMING = re.compile(
    r"^(?:This is (?:our|the) live|Follow (?:along|our|us|live)|Here(?:'s| is| are) what|"
    r"Welcome to|Good (?:morning|afternoon|evening)|We(?:'ll| will) be back|Stay with us|"
    r"Stay tuned|This (?:live )?(?:page|blog)|For more information|Read more|Subscribe|"
    r"Sign up|Key (?:events|takeaways)|Glory to Ukraine|We (?:do not|don't|will not) report|"
    r"(?:These|Such) developments|Overall, |In summary|To recap|"
    r".*\bhere(?:'s| is| are) (?:what|where|how)\b)",
    re.IGNORECASE,
)
# A judgement, when it counts nothing: "Governments have been scrambling…, analysts say",
# "For now, the summit has given Putin…", "By striking ports…, Russia demonstrates…".
_JUDGEMENT = re.compile(
    r".*, (?:analysts|experts|observers|commentators) (?:say|said|believe|note|suggest)\b"
    r"|For now, |By (?!the\b)[a-z]+ing\b"
    r"|(?:analysts|experts|observers|commentators) (?:say|said|believe|note|suggest)\b"
    r"|Our (?:\w+ )?correspondents? (?:in \w+ )?(?:says|said|reports|writes)\b",
    re.IGNORECASE,
)
# What continues the development before it and reports no act of its own (docs/codebook.md):
# a quotation ("“People have survived…,” said …"), a line introducing one ("… said:"), a
# sentence that describes a state, with no act ("Needs remain enormous", "The attacks are a
# deliberate attempt…"), and background ("had been spared since…", "takes … support since
# February 2022 to over £4.6 billion", "Since February 2022, Canada has committed…").
_QUOTATION = re.compile(r"^[\"“‘]|:$")
_BACKGROUND_SENTENCE = re.compile(
    r"\b(?:takes|took|brings|brought|bringing|taking)\b.{0,80}\bsince\b.{0,40}\bto\b"
    r"|\b(?:opened|built|founded|launched) (?:by \w+ )?in (?:1[89]|20)\d\d\b"
    r"|^Since (?:\w+ )?(?:19|20)\d\d\b|\btotal\b[^.]{0,60}\bsince (?:\w+ )?(?:19|20)\d\d\b"
    r"|\bin the (?:first|early|opening) (?:days|weeks|months) of the "
    r"(?:full-scale )?(?:war|invasion)",
    re.IGNORECASE,
)
# A sentence about the act before it: "Rescuers pulled four people…", "The blast also damaged…",
# "The talks ended after less than two hours", "Several children were among the wounded",
# "This purchase will help Ukraine defend…".
_REFERS_TO_ACT = re.compile(
    r"^(?:rescuers|rescue workers|"
    r"firefighters|emergency workers|(?:the|this|that) (?:blast|explosion|strike|attack|bombs?|"
    r"missiles?|shelling|impact|talks|meeting))\b"
    r"|^(?:the|this|that|it) \w+ also (?:[a-z]{3,}ed|hit|struck)\b"
    r"|\bamong the (?:dead|killed|wounded|injured|victims)\b"
    r"|^(?:most|many|some|all|half) of the (?:casualties|victims|dead|wounded|injured)\b"
    r"|^(?:the|this) (?:purchase|donation|contribution) will help\b",
    re.IGNORECASE,
)
# "The strike came as officials from 45 countries met…": what follows is news of its own.
_FRAMES_NEWS = re.compile(r"\b(?:came|comes|followed|follows) (?:as|after|when|while)\b", re.I)
_DISTANCE = re.compile(r"\d[\d,.]*[- ]?(?:km|kilomet(?:re|er)s?|miles?)\b", re.IGNORECASE)
_STATIVE = re.compile(r"\b(?:is|are|remains?|seems?|appears?|continues? to)\b", re.IGNORECASE)
_STATE = re.compile(r"\b(?:remains?|is|are|seems?|looks?)\s+(?:\w+ly\s+)?\w+ed\b", re.I)
_FUTURE = re.compile(r"\b(?:will|would|plans? to|is to|are to|intends? to)\b", re.IGNORECASE)
_JOIN = re.compile(
    r",?\s+and\s+(?=(?:also\s+|then\s+|later\s+)?(?:[a-z]{3,}ed|took|struck|sent|hit|met|"
    r"held|gave|made|shot|sank|fled|led|won|lost|signed|imposed)\b)"
)
# ", and the Pentagon announced …", ", while Lithuania pledged …", ", and EU governments agreed
# …", ", where Biden announced …": another actor's own act.
_JOIN_ACTOR = re.compile(
    r",\s+(?:and|while|whereas|where)\s+(?=(?:the\s+)?[A-Z][\w'’.-]*(?:\s+(?:of\s+)?[A-Z][\w'’.-]*){0,4}"
    r"(?:\s+[a-z]+s)?\s+(?:\w+ly\s+)?(?:[a-z]{3,}ed|took|struck|sent|hit|met|held|gave|made|shot|sank|fled|"
    r"led|won|lost|signed|imposed|agreed)\b)"
)
_REFERS_BACK = re.compile(r"\b(?:them|these|those|it|its)\b", re.IGNORECASE)
_SUBORDINATE = re.compile(r"\b(?:which|who|that|whose|where|after|since|when|while)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.,-])\d[\d,.]*(?![\w-])")
_HEAD_OF_STATE = re.compile(
    r"\b(?:President|Prime Minister|Chancellor|King|Zelensky|Putin|Biden|Trump|Macron|"
    r"Scholz|Starmer|Erdogan|Xi Jinping|Orban|Meloni|Tusk|Sandu)\b"
)


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


def read_article(path: str, max_bytes: int = MAX_ARTICLE_BYTES) -> str:
    """The text of a file, or of standard input for '-'; one over `max_bytes` is refused unread."""
    name = "stdin" if path == "-" else path
    try:
        with nullcontext(sys.stdin.buffer) if path == "-" else Path(path).open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise InputError(
            f"{name}: larger than the limit of {max_bytes} bytes ([ingest] max_article_bytes)"
        )
    return article_text(data, name)


def paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks (inner line breaks joined), or lines when there are none.

    A bullet or a time-stamped entry is a block of its own; time stamps and section labels
    ("Kharkiv: …") are taken off, and blocks that are only a label or a time are left out.
    """
    text = without_control_characters(text.replace("\r\n", "\n").replace("\r", "\n"))
    blocks = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else text.split("\n")
    found = []
    commentary = False  # under a heading such as "OUR ASSESSMENT", until the next heading
    for block in blocks:
        for unit in _units(block):
            unit = _STAMP.sub("", _DATELINE.sub("", " ".join(unit.split())))
            if _SECTION.fullmatch(unit):
                commentary = bool(_COMMENTARY.match(unit))
                continue
            if commentary or _COMMENTARY.match(unit):
                continue
            unit = _LABEL.sub("", unit)
            if unit and not _ONLY_STAMP.fullmatch(unit):
                found.append(unit)
    return found


def _units(block: str) -> list[str]:
    """A block's bullets and stamped entries, each on its own; other lines joined."""
    units: list[str] = []
    joining = False
    for line in block.split("\n"):
        if not line.strip():
            continue
        pieces = [p for p in _INLINE_BULLET.split(line) if p.strip()]
        starts = _BULLET.match(line) or _STAMP.match(line.strip()) or len(pieces) > 1
        if starts or not joining:
            units.extend(_BULLET.sub("", piece) for piece in pieces)
            joining = not starts
        else:
            units[-1] += " " + line
    return units


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
    if _REPORTING.search(sentence) or _STATEMENT.search(sentence):
        return True
    return any(m.group(1).lower() not in _NOT_SUBJECT for m in _PAST.finditer(sentence))


def _headline(line: str) -> bool:
    """A line without a final stop that reports nothing, or is short or in title case."""
    if not reports_something(line):
        return True
    words = line.split()
    long_words = [word for word in words if len(word) > 3]
    capitals = sum(word[:1].isupper() for word in long_words)
    attributed = re.search(r"\b(?:said|says|told|according to|reported)\b", line)
    title_case = capitals >= TITLE_CASE * len(long_words) and not _PAST_VERB.search(line)
    return title_case or (len(words) < HEADLINE_WORDS and not attributed)


def _first_line(text: str, paragraph: str) -> bool:
    """Whether a paragraph is the article's first line as written (not a bullet): its title."""
    line = text.lstrip().split("\n", 1)[0]
    if _BULLET.match(line) or re.search(r"\bsaid\b|\baccording to\b", line):
        return False  # a bullet, or a report's first sentence ("…, the mayor said")
    return " ".join(line.split()).endswith(paragraph)


@dataclass
class Development:
    """Consecutive sentences about one thing, with each sentence's own category scores."""

    sentences: list[str]
    scores: list[dict[str, float]]
    label: str | None
    figures: list[Figure] = field(default_factory=list)
    own_words: list[str] = field(default_factory=list)
    counts: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    @property
    def decided_from(self) -> str:
        """The words the category is decided from: a split clause without its borrowed subject."""
        return " ".join(self.own_words or self.sentences)


def find_developments(text: str, lexicon: Lexicon, categories: list[str]) -> list[Development]:
    """The developments an article reports, in the order it reports them."""
    groups: list[Development] = []
    units = paragraphs(text)
    for index, paragraph in enumerate(units):
        if not _ENDS_SENTENCE.search(paragraph) and (
            _headline(paragraph) or (index == 0 and len(units) > 1 and _first_line(text, paragraph))
        ):
            continue  # a headline (an article's first line without a stop), a byline, links
        first = True
        quoted = bool(_QUOTATION.match(paragraph))  # a quotation, to its end, follows on
        for sentence in sentences(paragraph):
            if _FRAMING.match(sentence) or (
                _JUDGEMENT.match(sentence) and not _NUMBER.search(sentence)
            ):
                continue
            for part in re.split(r"(?<=;)\s+", sentence):
                if groups and (quoted or _follows_on(part.rstrip(";"))):
                    _attach(groups[-1], part, lexicon, categories)
                    continue  # what follows it in the paragraph may still start a development
                for clause, own_words in clauses(part, lexicon, categories):
                    _place(groups, clause, own_words.rstrip(";"), first, lexicon, categories)
                    first = False
    kept = []
    for group in groups:
        if group.sentences[-1].endswith(";"):  # the clause after it became another development
            group.sentences[-1] = group.sentences[-1][:-1] + "."
        group.figures = find_figures(group.text, lexicon.actors_in)
        if group.figures or any(reports_something(s) for s in group.sentences):
            kept.append(group)
    return kept


def _follows_on(sentence: str) -> bool:
    """Whether a sentence adds to the development before it rather than reporting one: a
    quotation, background, or a present-tense description with no act (docs/codebook.md)."""
    if (
        _QUOTATION.search(sentence)
        or _BACKGROUND_SENTENCE.search(sentence)
        or (_REFERS_TO_ACT.search(sentence) and not _FRAMES_NEWS.search(sentence))
    ):
        return True
    if _NUMBER.search(_DISTANCE.sub("", sentence)):
        return False  # a sentence that counts something is kept however it reads
    if re.search(r"\bhad (?:\w+ly )?been\b.{0,200}\bsince\b", sentence, re.IGNORECASE):
        return True  # "Vinnytsia had been largely spared since the first weeks of the war"
    if not _STATIVE.search(sentence):
        return False  # "Russia launches drones at Kyiv.": a live blog's present reports an act
    sentence = _STATE.sub("", sentence)  # "remains limited": a state, not an act
    return not (
        _PAST_VERB.search(sentence)
        or re.search(r"\b(?:was|were)\b", sentence)
        or _STATEMENT.search(sentence)
        or _FUTURE.search(sentence)
        or _REPORTING.search(sentence)
    )


def _attach(group: Development, sentence: str, lexicon: Lexicon, categories: list[str]) -> None:
    """Add a follow-on sentence to a development whatever its words' category; it reports no
    act of its own, so the category is still decided from the development's own words."""
    result = lexicon.classify(sentence, categories, _figure_names(sentence))
    group.sentences.append(sentence)
    group.scores.append(result.scores)


def _place(
    groups: list[Development],
    clause: str,
    own_words: str,
    first: bool,
    lexicon: Lexicon,
    categories: list[str],
) -> None:
    """Add a clause to the development before it, or start a new one with it."""
    result = lexicon.classify(own_words, categories, _figure_names(own_words))
    label = result.category if result.strength >= lexicon.min_score else None
    counts = figures_by_name(own_words)
    current = groups[-1] if groups else None
    if (
        current
        and _joins(clause, first, current.label, label)
        and not _counts_differ(current.counts, counts)
    ):
        current.counts = {**counts, **current.counts}
        current.sentences.append(clause)
        current.own_words.append(own_words)
        current.scores.append(result.scores)
        current.label = current.label or label
    else:
        groups.append(Development([clause], [result.scores], label, [], [own_words], dict(counts)))


def clauses(sentence: str, lexicon: Lexicon, categories: list[str]) -> list[tuple[str, str]]:
    """A sentence, or its two halves when 'and <verb>' joins developments of different kinds.

    Each comes with the words its category is decided from. The second half is shown with
    the first half's subject ("The EU adopted sanctions and approved €1.5 billion" → "The EU
    adopted sanctions", "The EU approved €1.5 billion") but decided without it.
    """
    if len(sentence) > LONGEST_SENTENCE:
        return [(sentence, sentence)]  # not a sentence a reporter wrote: left whole
    for join in _JOIN_ACTOR.finditer(sentence):
        left, right = sentence[: join.start()], sentence[join.end() :]
        if _REFERS_BACK.search(right.split(",")[0]):
            continue  # "…, and Ukraine shot down 56 of them": the same development
        halves = [lexicon.classify(h, categories, _figure_names(h)) for h in (left, right)]
        if min(h.strength for h in halves) >= lexicon.min_score:
            left = left.rstrip(",") + "."
            right = right[:1].upper() + right[1:]
            return [(left, left), *clauses(right, lexicon, categories)]
    for join in _JOIN.finditer(sentence):
        left, right = sentence[: join.start()], sentence[join.end() :]
        if _SUBORDINATE.search(re.split(r"[,;:]", left)[-1]):
            continue  # "…, which killed two and injured 16": one clause's verbs
        first = lexicon.classify(left, categories, _figure_names(left))
        second = lexicon.classify(right, categories, _figure_names(right))
        if min(first.strength, second.strength) < lexicon.min_score:
            continue
        _, _, rest = right.partition(" ")  # what the second verb acts on: a pledge needs an object
        if lexicon.classify(rest, categories, _figure_names(rest)).strength < lexicon.min_score:
            continue
        if first.category != second.category and second.predicate:
            verb = lexicon.predicates.search(left)
            subject = left[: verb.start] if verb else ""
            left = left.rstrip(",") + "."
            return [(left, left), (subject + right, right)]
    return [(sentence, sentence)]


def _counts_differ(counts: dict[str, float], clause_counts: dict[str, float]) -> bool:
    """'Ukraine downed 63 drones; Russia said it downed 62': another count of the same figure
    is another development, not more of this one."""
    return any(counts.get(name, value) != value for name, value in clause_counts.items())


@lru_cache(maxsize=1024)
def figures_by_name(text: str) -> dict[str, float]:
    """The figures of a clause, by name; a clause is read several times while it is placed."""
    return {figure.name: figure.value for figure in find_figures(text)}


def _figure_names(text: str) -> list[str]:
    return list(figures_by_name(text))


def _joins(sentence: str, first: bool, current: str | None, label: str | None) -> bool:
    """Whether a sentence goes on the development before it rather than starting one."""
    agrees = not (current and label and current != label)
    if first:
        return agrees and bool(_CONTINUES_PARAGRAPH.search(sentence))
    return agrees or bool(_CONTINUES.match(sentence))


def people_in(text: str) -> list[str]:
    """Named office holders: 'President Volodymyr Zelensky' → 'Volodymyr Zelensky'."""
    return list(dict.fromkeys(match.group(1) for match in _PERSON.finditer(text)))


def title_for(group: Development, category: str, min_score: float = 0.0) -> str:
    """The first sentence that is about the category (else the one that says most about it),
    without its lead clause, kept short."""
    scored = list(zip(group.scores, group.sentences, strict=True))
    about = [
        sentence
        for scores, sentence in scored
        if scores.get(category, 0) >= min_score
        and scores.get(category, 0) == max(scores.values(), default=0)
    ]
    sentence = about[0] if about else max(scored, key=lambda pair: pair[0].get(category, 0))[1]
    sentence = _LEAD.sub("", sentence, count=1)
    if _PRONOUN.match(sentence):
        people = people_in(group.text)
        sentence = _PRONOUN.sub(people[0], sentence, count=1) if people else sentence
    sentence = sentence[:1].upper() + sentence[1:]
    return shorten(sentence.rstrip(".;"))


def shorten(sentence: str, limit: int = TITLE_LENGTH) -> str:
    """Cut at the last clause break (or word) before the limit."""
    if len(sentence) <= limit:
        return sentence
    clause = sentence.rfind(", ", 0, limit)
    if clause > limit // 3:
        return sentence[:clause]
    return sentence[: sentence.rfind(" ", 0, limit - 1)] + "…"


def occurred_at(text: str, published: datetime, has_clock: bool) -> tuple[datetime, str | None]:
    """When it happened, from its first time phrase (not a background one: 'since 24 February'),
    resolved against the publication time."""
    match = next(
        (
            m
            for m in _WHEN.finditer(text)
            if not _BACKGROUND.search(text[max(0, m.start() - 30) : m.start()])
        ),
        None,
    )
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
        stated = _calendar_day(match, day)
        if stated is None:
            return published, None
        day = stated
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
        figures = {f.name: f.value for f in group.figures}
        result = lexicon.decide(group.decided_from, categories, figures)
        at, phrase = occurred_at(group.text, when, has_clock)
        place = lexicon.place_in(group.text)
        importance, why = importance_of(result.category, figures, group.text)
        record = {
            "occurred_at": at,
            "category": result.category,
            "title": title_for(group, result.category, lexicon.min_score),
            "summary": group.text,
            "location": {"place": place[0], "country": place[1]} if place else {},
            "actors": [*people_in(group.text), *lexicon.actors_in(group.text)],
            "figures": figures,
            "figure_notes": figure_notes(group.figures),
            "sources": [{"name": source, "url": url}],
            "importance": importance,
            "classification": {
                **result.as_record(lexicon.min_score),
                "confidence": confidence(result, group),
                "importance_reason": why,
                "time_phrase": phrase,
            },
        }
        try:
            event = Event.model_validate(record, context=context)
        except ValidationError as exc:
            field, message = validation_problems(exc)[0]
            raise InputError(f"an event found in the text is refused: {field}: {message}") from None
        events.setdefault(event.id, event)
    return list(events.values())


def figure_notes(figures: list[Figure]) -> dict[str, FigureNote]:
    """What each figure's bare number loses: qualifier, side, unit, a range's top."""
    notes = {}
    for figure in figures:
        note = FigureNote(
            qualifier=figure.qualifier, side=figure.side, unit=figure.unit, upper=figure.upper
        )
        if note != FigureNote():
            notes[figure.name] = note
    return notes


def confidence(result: Classification, group: Development) -> float:
    """The category's confidence, lowered when the text has numbers no figure was made of."""
    numbers = len(_NUMBER.findall(group.text))
    if numbers > len(group.figures):
        return round(result.confidence * 0.85, 2)
    return result.confidence


def importance_of(category: str, figures: dict[str, float], text: str) -> tuple[int, str]:
    """1–5 from what happened: deaths, the scale of an attack or a pledge, who acted."""
    killed, injured = figures.get("killed", 0), figures.get("injured", 0)
    launched = figures.get("drones_launched", 0) + figures.get("missiles_launched", 0)
    money = max((v for n, v in figures.items() if n.startswith("aid_value_")), default=0)
    if killed >= MANY_KILLED:
        return 5, f"{killed:g} killed"
    if killed:
        return 4, f"{killed:g} killed"
    if injured >= MANY_KILLED:
        return 4, f"{injured:g} injured"
    if launched >= LARGE_ATTACK:
        return 4, f"{launched:g} drones and missiles launched"
    if money >= LARGE_PLEDGE:
        return 4, f"{money / 1e9:g} billion in aid"
    leader = _HEAD_OF_STATE.search(text)
    if leader and category == "diplomatic":
        return 4, f"a head of state or government acting ({leader.group(0)})"
    return 3, "no deaths, no large attack or pledge, no head of state"


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
