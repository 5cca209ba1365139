"""Key figures in wire copy: drones and missiles, casualties, money, distances; words or digits.

Figures are named as the registry names them (`briefing.config.DEFAULT_FIGURES`); money that is
not in US dollars is named by its currency: aid_value_eur, aid_value_gbp, aid_value_uah.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
WORD_VALUES = {word: n for n, word in enumerate(_UNITS)} | {
    word: 20 + 10 * n for n, word in enumerate(_TENS)
}
SCALES = {
    "hundred": 1e2,
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
_WORD = "|".join(sorted(WORD_VALUES, key=len, reverse=True))
_WORDS_NUMBER = rf"(?:{_WORD})(?:[\s-]+(?:and\s+)?(?:{_WORD}|hundred|thousand))*|a\s+dozen"
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
QUANTITY = rf"(?:(?<![\w-])(?:{_DIGITS})|\b(?:{_WORDS_NUMBER})\b)"
_SCALE = r"(?:\s?(?:hundred|thousand|million|billion|trillion)|\s?(?:bn|mn|[mkb]))\b"

_CURRENCY = {
    "us$": "usd",
    "c$": "cad",
    "cad": "cad",
    "$": "usd",
    "usd": "usd",
    "dollars": "usd",
    "€": "eur",
    "eur": "eur",
    "euros": "eur",
    "euro": "eur",
    "£": "gbp",
    "gbp": "gbp",
    "pounds": "gbp",
    "uah": "uah",
    "₴": "uah",
    "hryvnias": "uah",
    "hryvnia": "uah",
}
_MONEY = re.compile(
    rf"(?:(?P<pre>US\$|C\$|\$|€|£|₴|\b(?:USD|EUR|GBP|UAH|CAD)\s?)(?P<pn>{_DIGITS})(?P<ps>{_SCALE})?"
    rf"|(?P<sn>{_DIGITS})(?P<ss>{_SCALE})?\s+(?P<post>dollars|euros?|pounds|hryvnias?|"
    rf"USD|EUR|GBP|UAH)\b)",
    re.IGNORECASE,
)
# Money counts as aid only where the sentence speaks of giving; a total is not a new pledge.
_AID_CONTEXT = re.compile(
    r"\b(?:package|aid|assistance|pledg\w*|grant\w*|loan\w*|fund\w*|donat\w*|support|"
    r"tranche|contribut\w*|allocat\w*|provid\w*|financ\w*)\b",
    re.IGNORECASE,
)
_TOTAL = re.compile(r"\b(?:total\w*|overall|since|so far|cumulative|bringing)\b[^.]{0,40}$", re.I)

_DISTANCE = re.compile(
    rf"(?P<q>{QUANTITY})\s*-?\s*(?P<unit>km|kilomet(?:er|re)s?|miles?)\b(?!/)", re.IGNORECASE
)

_OBJECTS = {
    "drones": r"drones?|UAVs?|unmanned aerial vehicles?|Shaheds?(?![\w-]*\s+(?:\w+\s+)?drones?)",
    "missiles": r"missiles?",
    "people": r"people|persons|civilians|residents|children|men|women|others|rescuers|"
    r"soldiers|servicemen|police officers",
}
_OBJECT = "|".join(rf"(?P<{kind}>{pattern})" for kind, pattern in _OBJECTS.items())
_STOP = r"(?:and|or|of|were|was|are|is|the|to|from|in|on|at|by|with|as|that|which)\b"
_BETWEEN = rf"(?:(?!{_STOP})(?![\d])[\w'’-]+\s+){{0,3}}?"
_MENTION = re.compile(
    rf"(?:(?P<part>{QUANTITY})\s+of\s+(?:the\s+)?)?(?P<q>{QUANTITY})\s+{_BETWEEN}(?:{_OBJECT})\b",
    re.IGNORECASE,
)
# "59 were destroyed", "35 of them": a count whose object is the one named before it.
_BARE = re.compile(
    rf"(?P<q>{QUANTITY})\s+(?:(?:more|others?|of them)\s+)?(?:were|was|have been|had been)\s+"
    rf"(?:\w+ly\s+)?(?=(?:destroy|shot|down|intercept|kill|injur|wound))"
    rf"|(?P<of>{QUANTITY})\s+of\s+(?:them|these|those)\b",
    re.IGNORECASE,
)
_CASUALTY_AFTER = re.compile(
    rf"(?P<act>killing|injuring|wounding|killed|injured|wounded)\s+"
    rf"(?:at least\s+|some\s+|about\s+|around\s+|more than\s+)?(?P<q>{QUANTITY})\b"
    rf"(?!\s*(?:%|percent|km|kilomet|miles|drones?|missiles?))",
    re.IGNORECASE,
)
_CASUALTY_BEFORE = re.compile(
    rf"(?P<q>{QUANTITY})\s+(?:were\s+|have been\s+|had been\s+)?"
    rf"(?P<act>killed|dead|injured|wounded|hurt)\b",
    re.IGNORECASE,
)

_ACTIONS = {
    "drones": {
        "launched": r"launch\w*|fired|firing|used|attacked with|sent",
        "destroyed": r"destroy\w*|destruction|shot down|shooting down|downed|downing|"
        r"neutrali[sz]\w*",
        "intercepted": r"intercept\w*",
    },
    "people": {
        "killed": r"kill\w*|dead|died|deaths?|lost their lives",
        "injured": r"injur\w*|wound\w*|hurt",
    },
}
_ACTIONS["missiles"] = _ACTIONS["drones"]
_ACTION = {
    kind: re.compile(
        "|".join(rf"\b(?P<{name}>{pattern})\b" for name, pattern in actions.items()), re.I
    )
    for kind, actions in _ACTIONS.items()
}
_COORDINATION = re.compile(r"^\s*(?:,?\s*and|,?\s*as well as|,?\s*plus)\s*$", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[;:]|[.!?]\s")
_NEAR_WORDS = 6


def parse_quantity(text: str, scale: str | None = None) -> float:
    """'1,200' → 1200, 'twenty-five' → 25, 'three hundred' → 300, with 'million' etc. applied."""
    words = text.lower().replace("-", " ").split()
    if words == ["a", "dozen"]:
        value = 12.0
    elif words[0][0].isdigit():
        value = float(text.replace(",", ""))
    else:
        value, current = 0.0, 0.0
        for word in words:
            if word in WORD_VALUES:
                current += WORD_VALUES[word]
            elif word == "hundred":
                current = max(current, 1) * 100
            elif word == "thousand":
                value += max(current, 1) * 1000
                current = 0
        value += current
    if scale:
        value *= SCALES[scale.strip().lower()]
    return value


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    kind: str
    quantity: float
    part: float | None = None
    action: str | None = None
    bare: bool = False


def extract_figures(text: str) -> dict[str, float]:
    """Every figure the text states, the first statement of each name winning."""
    figures: dict[str, float] = {}
    for name, value in _figures(" ".join(text.split())):
        figures.setdefault(name, value)
    return figures


def _figures(text: str) -> list[tuple[str, float]]:
    sentences = re.split(r"(?<=[.!?])\s+", text)
    found = [figure for sentence in sentences for figure in _money(sentence)]
    found += _distance(text)
    mentions = _mentions(text)
    for index, mention in enumerate(mentions):
        action = mention.action or _action(text, mentions, index)
        if action is None:
            continue
        if mention.part is not None:
            found.append((f"{mention.kind}_{action}", mention.part))
            if mention.kind != "people":
                found.append((f"{mention.kind}_launched", mention.quantity))
        elif mention.kind == "people":
            found.append((action, mention.quantity))
        else:
            found.append((f"{mention.kind}_{action}", mention.quantity))
    return [(name.removeprefix("people_"), value) for name, value in found]


def _money(sentence: str) -> list[tuple[str, float]]:
    if not _AID_CONTEXT.search(sentence):
        return []
    found = []
    for match in _MONEY.finditer(sentence):
        if _TOTAL.search(sentence[: match.start()]):
            continue
        currency = (match["pre"] or match["post"]).strip().lower()
        number, scale = (match["pn"], match["ps"]) if match["pre"] else (match["sn"], match["ss"])
        found.append((f"aid_value_{_CURRENCY[currency]}", parse_quantity(number, scale)))
    return found


def _distance(sentence: str) -> list[tuple[str, float]]:
    found = []
    for match in _DISTANCE.finditer(sentence):
        value = parse_quantity(match["q"])
        if match["unit"].lower().startswith("mile"):
            value = round(value * 1.609344)
        found.append(("distance_km", value))
    return found


def _mentions(sentence: str) -> list[_Mention]:
    mentions = []
    for match in _MENTION.finditer(sentence):
        kind = next(k for k in _OBJECTS if match[k])
        part = parse_quantity(match["part"]) if match["part"] else None
        quantity = parse_quantity(match["q"])
        mentions.append(_Mention(match.start(), match.end(), kind, quantity, part))
    for match in _CASUALTY_AFTER.finditer(sentence):
        action = "killed" if match["act"].lower().startswith("kill") else "injured"
        mentions.append(_mention_at(match, "people", action))
    for match in _CASUALTY_BEFORE.finditer(sentence):
        act = match["act"].lower()
        action = "killed" if act in ("killed", "dead") else "injured"
        mentions.append(_mention_at(match, "people", action))
    for match in _BARE.finditer(sentence):
        earlier = [m for m in mentions if m.end <= match.start() and m.kind != "people"]
        if earlier:
            kind = max(earlier, key=lambda m: m.end).kind
            mentions.append(_mention_at(match, kind, None, bare=True))
    return _without_overlaps(mentions)


def _mention_at(match: re.Match, kind: str, action: str | None, bare: bool = False) -> _Mention:
    quantity = parse_quantity(match["q"] or match["of"])
    return _Mention(match.start(), match.end(), kind, quantity, action=action, bare=bare)


def _without_overlaps(mentions: list[_Mention]) -> list[_Mention]:
    """The earliest, then longest, of overlapping mentions; those that settle an action first."""
    ordered = sorted(mentions, key=lambda m: (m.start, m.action is None, -(m.end - m.start)))
    kept: list[_Mention] = []
    for mention in ordered:
        if not kept or mention.start >= kept[-1].end:
            kept.append(mention)
    return kept


def _action(sentence: str, mentions: list[_Mention], index: int) -> str | None:
    """The verb a count belongs to: just before it, just after it, or shared by 'X and Y'."""
    before = _span_before(sentence, mentions, index)
    if index and _COORDINATION.match(before):
        shared = _action_before(sentence, mentions, index - 1)
        if shared:
            return shared
    return _action_before(sentence, mentions, index) or _action_after(sentence, mentions, index)


def _span_before(sentence: str, mentions: list[_Mention], index: int) -> str:
    start = mentions[index - 1].end if index else 0
    span = sentence[start : mentions[index].start]
    return _CLAUSE_END.split(span)[-1]


def _action_before(sentence: str, mentions: list[_Mention], index: int) -> str | None:
    mention = mentions[index]
    if mention.action:
        return mention.action
    words = _span_before(sentence, mentions, index).split()[-_NEAR_WORDS:]
    found = list(_ACTION[mention.kind].finditer(" ".join(words)))
    return found[-1].lastgroup if found else None


def _action_after(sentence: str, mentions: list[_Mention], index: int) -> str | None:
    mention = mentions[index]
    following = mentions[index + 1] if index + 1 < len(mentions) else None
    span = sentence[mention.end : following.start if following else len(sentence)]
    span = _CLAUSE_END.split(span)[0]
    found = _ACTION[mention.kind].search(" ".join(span.split()[:_NEAR_WORDS]))
    if found:
        return found.lastgroup
    if following and not following.bare and _COORDINATION.match(span):
        return following.action or _action_after(sentence, mentions, index + 1)
    return None
