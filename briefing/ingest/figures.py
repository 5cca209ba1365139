"""Key figures in news text, as an open set: every counted thing becomes a figure named after it.

Names follow docs/codebook.md: `<thing>_<act>` (`drones_launched`, `settlements_shelled`,
`children_returned`), the thing alone when no act is said (`projectiles`), `killed`/`injured`
for casualties, the act alone for people counted by a generic noun (`evacuated`), money as
`aid_value_<currency>` in its own currency, `distance_km`, and percentages as
`<thing>_percent`. Each figure keeps what a bare number loses: its qualifier ("at least"), a
range's top, its unit and the side whose act it counts.

The text is read as tokens, one clause at a time: a number, the words before it (a qualifier, a
verb: "shelled 24 settlements") and after it (a noun phrase, then perhaps a verb: "13 drones were
shot down"). A number with no act of its own shares its neighbour's ("launched 19 drones as well
as six missiles"). Work is linear in the text's length.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from itertools import pairwise

from briefing.event import Qualifier

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
    "mln": 1e6,
    "billion": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
}
_BIG = {"hundred": 1e2, "thousand": 1e3, "million": 1e6, "billion": 1e9}

_CURRENCY_SIGNS = {
    "us$": "usd",
    "c$": "cad",
    "ca$": "cad",
    "a$": "aud",
    "nz$": "nzd",
    "$": "usd",
    "€": "eur",
    "£": "gbp",
    "¥": "jpy",
    "₴": "uah",
    "₽": "rub",
    "zł": "pln",
}
_CURRENCY_WORDS = {
    **{code: code for code in ("usd", "eur", "gbp", "uah", "cad", "jpy", "chf", "sek", "nok")},
    **{code: code for code in ("dkk", "pln", "aud", "nzd", "rub", "czk", "cny")},
    **{"dollars": "usd", "euros": "eur", "euro": "eur", "pounds": "gbp", "sterling": "gbp"},
    **{"hryvnias": "uah", "hryvnia": "uah", "hryvnia's": "uah", "yen": "jpy", "francs": "chf"},
    **{"kronor": "sek", "kroner": "nok", "zlotys": "pln", "zloty": "pln", "roubles": "rub"},
    **{"rubles": "rub", "yuan": "cny", "crowns": "czk"},
}
# "1.3 billion Danish crowns": crowns and kroner are several currencies; the adjective says which.
_NATIONAL_CROWNS = {"danish": "dkk", "norwegian": "nok", "swedish": "sek", "czech": "czk"}
# "Norway pledged 7.5bn crowns": without the adjective, the country giving them says which.
_CROWN_COUNTRIES = [
    (re.compile(r"\b(?:Norw\w*|Oslo)\b"), "nok"),
    (re.compile(r"\b(?:Denmark|Danish|Copenhagen)\b"), "dkk"),
    (re.compile(r"\b(?:Swed\w*|Stockholm)\b"), "sek"),
]
_SIGN = "|".join(re.escape(s) for s in sorted(_CURRENCY_SIGNS, key=len, reverse=True))
_CODE = "|".join(sorted((c for c in _CURRENCY_WORDS if len(c) == 3), key=len, reverse=True))
_WORD_NUMBER = "|".join(sorted([*WORD_VALUES, "a", "half a", "one"], key=len, reverse=True))
_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_SCALE = r"(?:\s?(?:thousand|million|billion|trillion)|\s?(?:bn|mn|mln|[mkb]))\b"
_AMOUNT = rf"(?:{_DIGITS})(?:{_SCALE})?|(?:{_WORD_NUMBER})\s+(?:million|billion)\b"
_MONEY = re.compile(
    rf"(?:(?P<pre>{_SIGN})\s?|\b(?P<code>{_CODE})\s?)(?P<pa>{_AMOUNT})"
    rf"|(?P<sa>{_AMOUNT})\s+(?:(?P<nation>{'|'.join(_NATIONAL_CROWNS)})\s+)?"
    rf"(?P<post>[A-Za-z]{{3,10}}(?:'s)?)\b",
    re.IGNORECASE,
)
# Money counts as aid only where the sentence speaks of giving.
_AID_CONTEXT = re.compile(
    r"\b(?:package|aid|assistance|pledg\w*|grant\w*|loan\w*|fund\w*|donat\w*|support|"
    r"tranche|contribut\w*|allocat\w*|provid\w*|financ\w*|weapons?|to buy|military needs|"
    r"windfall|sale|budget|send|sent|deliver\w*|worth of|disburs\w*|raised|give[ns]?|giving|"
    r"gave|approv\w*)\b",
    re.IGNORECASE,
)
_NOT_NEW_MONEY = re.compile(
    r"\b(?:bringing|brings|brought|raising)\b[^.;]{0,60}$|\b(?:seeks?|seeking|requires?|"
    r"appeal(?:ed)? for|estimated at|cost of|damage|shortfall|gap)\b[^.;]{0,30}$"
    r"|\bsince (?:\w+ )?(?:19|20)\d\d\b[^.;]{0,60}$",  # "Since February 2022, … committed $1bn"
    re.IGNORECASE,
)
# A range is "between 45 and 52 percent", "45% to 52%" or "45-52%"; in "Nord Stream 1 to 40
# percent" the 1 is a name's, not a range's bottom.
_PERCENT = re.compile(
    rf"(?:\bbetween\s+(?P<a>{_DIGITS})\s*(?:%|percent|per cent)?\s*(?:and|to|-|–)"
    rf"|(?P<c>{_DIGITS})\s*(?:%|percent|per cent)\s*(?:and|to|-|–)|(?P<d>{_DIGITS})\s*[-–])\s*"
    rf"(?P<b>{_DIGITS})\s*(?:%|percent\b|per cent\b)|(?P<n>{_DIGITS})\s*(?:%|percent\b|per cent\b)",
    re.IGNORECASE,
)
_PERCENT_OF = re.compile(r"^\s*of\s+(?:the\s+|all\s+|its\s+|their\s+)?((?:[\w'-]+\s*){0,5})")
_DISTANCE = re.compile(
    rf"(?:(?:\bbetween\s+)?(?P<low>{_DIGITS})\s*(?:and|to|-|–)\s*)?(?P<q>{_DIGITS}|\b(?:{'|'.join(WORD_VALUES)}))\s*-?\s*(?P<unit>km|kilomet(?:er|re)s?|"
    r"miles?)\b(?!/)",
    re.IGNORECASE,
)

# "M270", "Kh-101": a model's letters and number are one word, not a count
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[A-Za-z][A-Za-z'’]*\d*(?:-[A-Za-z\d]+)*|[^\sA-Za-z\d]")
_STOP = {
    *("of", "and", "or", "were", "was", "are", "is", "be", "have", "has", "had", "in", "on"),
    *("at", "by", "with", "from", "to", "for", "over", "across", "into", "near", "as", "that"),
    *("which", "who", "including", "per", "a", "an", "the", "each", "while", "but", "than"),
    *("during", "after", "since", "against", "out", "remain", "remained", "remains", "plus"),
    *("had", "will", "would", "could", "may", "might", "this", "last", "its", "their", "his"),
    *("her", "it", "they", "he", "she", "there", "here", "so", "not", "no", "more", "less"),
    *("also", "all", "both", "about", "around", "some", "up", "down", "off", "through"),
    *("between", "among", "under", "behind", "before", "beyond", "inside", "outside"),
    *("without", "within", "overnight", "yesterday", "today", "tonight", "earlier", "later"),
    *("now", "again", "deep", "monday", "tuesday", "wednesday", "thursday", "friday"),
    *("saturday", "sunday", "each", "every", "apiece", "respectively", "alone", "worth"),
    *("valued", "costing", "along", "toward", "towards", "via", "throughout", "amid"),
}
_NP_LEAD = {"more", "other", "additional", "new", "further", "extra"}
_QUALIFIERS: list[tuple[tuple[str, ...], Qualifier]] = [
    (("at", "least"), "at least"),
    (("more", "than"), "more than"),
    (("up", "to"), "up to"),
    (("at", "most"), "at most"),
    (("no", "more", "than"), "at most"),
    (("fewer", "than"), "fewer than"),
    (("less", "than"), "fewer than"),
    (("an", "estimated"), "approximately"),
    (("over",), "more than"),
    (("almost",), "approximately"),
    (("nearly",), "approximately"),
    (("about",), "approximately"),
    (("around",), "approximately"),
    (("some",), "approximately"),
    (("roughly",), "approximately"),
    (("approximately",), "approximately"),
    (("estimated",), "approximately"),
    (("under",), "fewer than"),
]
_FILLERS = {"a", "further", "an", "additional", "another", "total", "of", "only", "just", "all"}
_FILLERS |= {"the", "more", "other", "than", "least", "at", "up", "to", "some", "nearly"}
_FILLERS |= {"almost", "about", "around", "over", "roughly", "approximately", "estimated"}
_FILLERS |= {"home", "back"}
_MONTHS = {
    *("january", "february", "march", "april", "may", "june", "july", "august", "september"),
    *("october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug"),
    *("sep", "sept", "oct", "nov", "dec"),
}
# "struck … in 147 areas": places counted after "in" take the clause's verb, as "times" do.
_PLACES = {"areas", "settlements", "localities", "towns", "villages", "districts", "communities"}
_PLACES |= {"regions", "cities", "locations", "oblasts", "places", "sites"}
_PERIODS = {"hours", "hour", "days", "day", "weeks", "week", "months", "month", "years", "year"}
_PERIOD_LEAD = {"past", "last", "next", "within", "in", "for", "after", "over", "first"}
_NOT_AFTER = {"day", "no", "no.", "number", "article", "update", "page", "route", "group", "g"}

_INVARIANT = {"aircraft", "people", "personnel", "children", "police", "men", "women", "staff"}
_INVARIANT |= {"livestock", "equipment", "ammunition", "military", "infantry"}
_GENERIC_PEOPLE = {
    *("people", "persons", "person", "civilians", "civilian", "residents", "resident"),
    *("inhabitants", "ukrainians", "russians", "citizens", "individuals", "men", "women"),
    *("man", "woman", "consumers", "households", "families"),
}
_KEEP_NOUN = {"individuals", "consumers", "households", "families"}
_ONE_PERSON = {
    *("man", "woman", "child", "boy", "girl", "person", "civilian", "resident", "soldier"),
    *("teenager", "pensioner", "driver", "worker", "officer", "rescuer", "policeman"),
}
_RELATIVES = _ONE_PERSON | {"son", "daughter", "husband", "wife", "mother", "father", "brother"}
_RELATIVES |= {"sister", "grandson", "granddaughter", "grandmother", "grandfather", "baby"}
_SYNONYMS = {
    "uavs": "drones",
    "uav": "drones",
    "shaheds": "drones",
    "shahed": "drones",
    "drone": "drones",
    "vehicles": "vehicles",
    "missile": "missiles",
    "rockets": "rockets",
    "persons": "people",
    "person": "people",
}
_DRONE_WORDS = {"unmanned", "aerial"}
_WEAPONS = {"drones", "missiles"}
_IRREGULAR = {
    *("struck", "hit", "sent", "shot", "lost", "fled", "sank", "sunk", "taken", "took", "left"),
    *("brought", "fought", "given", "gave", "made", "held", "won", "seen", "dead", "hurt", "put"),
    *("freed", "downed", "built", "spent", "bought", "shut", "cut", "led", "met", "stolen"),
}
_PARTICIPLES = {
    "struck": "struck",
    "hit": "hit",
    "sent": "sent",
    "shot": "shot",
    "lost": "lost",
    "fled": "fled",
    "sank": "sunk",
    "sunk": "sunk",
    "took": "taken",
    "taken": "taken",
    "left": "left",
    "brought": "brought",
    "fought": "fought",
    "gave": "given",
    "given": "given",
    "made": "made",
    "held": "held",
    "won": "won",
    "dead": "killed",
    "died": "killed",
    "deaths": "killed",
    "hurt": "injured",
    "put": "put",
    "built": "built",
    "spent": "spent",
    "bought": "bought",
    "led": "led",
    "met": "met",
    "stolen": "stolen",
    "cut": "cut",
    "shut": "shut",
}
_ING = {
    "hitting": "hit",
    "striking": "struck",
    "sending": "sent",
    "shooting": "shot",
    "taking": "taken",
    "losing": "lost",
    "leaving": "left",
    "bringing": "brought",
    "giving": "given",
    "making": "made",
    "holding": "held",
    "sinking": "sunk",
    "fleeing": "fled",
    "cutting": "cut",
    "putting": "put",
    "using": "used",
}
_NOT_VERBS = {
    *("including", "during", "morning", "evening", "according", "following", "regarding"),
    *("something", "nothing", "anything", "bring", "king", "spring", "building", "ceiling"),
    *("red", "bed", "shed", "need", "speed", "seed", "hundred", "united", "armed", "advanced"),
    *("guided", "unmanned", "armoured", "armored", "alleged", "so-called", "detailed"),
    *("weed", "feed", "embed"),
}
_CASUALTY = {
    "killed": "killed",
    "kill": "killed",
    "died": "killed",
    "dead": "killed",
    "deaths": "killed",
    "injured": "injured",
    "injure": "injured",
    "wounded": "injured",
    "wound": "injured",
    "hurt": "injured",
    "killing": "killed",
    "injuring": "injured",
    "wounding": "injured",
}
_WEAPON_ACTS = {
    "launched": "launched",
    "fired": "launched",
    "used": "launched",
    "sent": "launched",
    "deployed": "launched",
    "attacked": "launched",
    "unleashed": "launched",
    "directed": "launched",
    "destroyed": "destroyed",
    "shot": "destroyed",
    "downed": "destroyed",
    "neutralised": "destroyed",
    "neutralized": "destroyed",
    "eliminated": "destroyed",
    "intercepted": "intercepted",
    "struck": "launched",
    "hit": "launched",
    "slammed": "launched",
}
_MODALS = {"will", "would", "to", "shall", "can", "could", "may", "might", "must"}
_BASE_IRREGULAR = {
    **{"buy": "bought", "send": "sent", "give": "given", "take": "taken", "make": "made"},
    **{"hold": "held", "bring": "brought", "lose": "lost", "hit": "hit", "strike": "struck"},
    **{"shoot": "shot", "build": "built", "sell": "sold", "seek": "sought", "win": "won"},
    **{"leave": "left", "meet": "met", "fly": "flown", "put": "put", "cut": "cut"},
}
_QUALIFYING = {"at", "least", "more", "than", "up", "to", "about", "around", "some", "over"}
_QUALIFYING |= {"nearly", "almost", "roughly", "approximately", "an", "estimated", "a", "total"}
_QUALIFYING |= {"further", "additional", "another", "only", "just", "fewer", "less", "under"}
_QUALIFYING |= {"between"}
_AUXILIARY = {"were", "was", "have", "has", "had", "been", "be", "are", "is", "remain"}
_AUXILIARY |= {"remained", "remains", "being", "got", "later", "also", "all", "reportedly"}
_COORDINATION = {",", "and", "as", "well", "plus", "along", "with", "or", "another", "a"}
_COORDINATION |= {"including"}
_ATTACK = re.compile(r"\b(?:attack\w*|struck|strik\w*|hit|target\w*|fired|launched)\b", re.I)
_LAUNCH_NOUNS = {"barrage", "salvo", "wave", "swarm", "volley", "attack", "launch"}
CLAUSE_WORDS = 30  # words looked back for a clause's verb
_REPORTED = re.compile(
    r"\b(?:said|says|say|reports?|reported|told|according to|claimed|claims|confirmed)\b", re.I
)
_SPEAKER_ACTS = re.compile(r"\s*(?:that\s+)?(?:it|its|they|their|we|our)\b", re.I)
SIDE_LOOK_BACK = 300  # characters before an act searched for the party that did it
_QUOTES = {'"', "“", "”", "‘", "’", "'", "«", "»"}
_CLAUSE = re.compile(r"(?<=[.!?;])\s+")


@dataclass(frozen=True)
class Figure:
    """One stated figure: its name and value, and what a bare number would lose."""

    name: str
    value: float
    qualifier: Qualifier | None = None
    unit: str | None = None
    upper: float | None = None
    side: str | None = None


def parse_quantity(text: str, scale: str | None = None) -> float:
    """'1,200' → 1200, 'twenty-five' → 25, 'two dozen' → 24, 'half a million' → 500000."""
    total, current = 0.0, 0.0
    for word in text.lower().replace("-", " ").split():
        if word[0].isdigit():
            current = float(word.replace(",", ""))
        elif word in WORD_VALUES:
            current += WORD_VALUES[word]
        elif word in ("a", "one") and not current:
            current = 1
        elif word == "half":
            current = 0.5
        elif word == "dozen":
            current = (current or 1) * 12
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in _BIG:
            total += (current or 1) * _BIG[word]
            current = 0
    value = total + current
    if scale:
        value *= SCALES[scale.strip().lower()]
    return round(value, 6)  # "4.1 billion" is 4100000000, not 4099999999.9999995


def extract_figures(text: str) -> dict[str, float]:
    """Every figure the text states, by name; the first statement of a name wins."""
    return {figure.name: figure.value for figure in find_figures(text)}


def find_figures(text: str, sides: Callable[[str], list[str]] | None = None) -> list[Figure]:
    """Every figure the text states, the first statement of each name winning.

    A single weapon ("a missile struck") yields to a number stated for the same name later
    ("part of a barrage of 38 missiles"): the barrage is what was launched.

    `sides` names the parties in a stretch of text (the lexicon's actors); a figure's side is
    the party named last before its act, or after "by".
    """
    found: dict[str, Figure] = {}
    single: set[str] = set()
    previous_noun: list[str | None] = [None]
    for clause in _CLAUSE.split(" ".join(text.split())):
        for figure, is_single in _clause_figures(clause, previous_noun, sides):
            if figure.name in single and not is_single:
                single.discard(figure.name)
                found[figure.name] = figure
            elif figure.name not in found:
                found[figure.name] = figure
                if is_single:
                    single.add(figure.name)
    return list(found.values())


@dataclass
class _Count:
    """A number in a clause, and what the words around it say about it."""

    first: int  # token index of the number's first word
    last: int  # token index after the number
    value: float
    qualifier: Qualifier | None = None
    noun: str | None = None
    adjective: str | None = None
    act: str | None = None
    act_at: int | None = None
    act_before: bool = False
    whole: float | None = None
    upper: float | None = None
    bare: bool = False
    noun_end: int = 0
    single_weapon: bool = False  # "a missile struck": one, unless a number is stated


def _clause_figures(
    clause: str, previous_noun: list[str | None], sides: Callable[[str], list[str]] | None
) -> list[tuple[Figure, bool]]:
    """The clause's figures, each with whether it counts a single weapon ("a missile")."""
    figures: list[Figure] = []
    taken: list[tuple[int, int]] = []
    figures += _money(clause, taken)
    figures += _percentages(clause, taken)
    figures += _distances(clause, taken)
    covered = bytearray(len(clause))  # characters already read as money, % or distance
    for start, end in taken:
        covered[start:end] = b"\x01" * (end - start)
    tokens = [
        (m.group(0), m.start(), m.end())
        for m in _TOKEN.finditer(clause)
        if not covered[m.start()] and m.group(0) not in _QUOTES
    ]
    words = [t[0].lower() for t in tokens]
    counts = _counts(words, tokens, clause)
    read: list[_Count] = []
    for count in counts:
        if read and count.first < read[-1].noun_end:
            continue  # the whole of '18 of 22 missiles'
        _read_around(words, count, previous_noun)
        if count.noun and not count.bare:
            previous_noun[0] = count.noun
        read.append(count)
    counts = read
    _share_acts(words, counts)
    found = [(figure, False) for figure in figures]
    for count in counts:
        found += [(figure, count.single_weapon) for figure in _named(count, clause, tokens, sides)]
    return found


def _counts(words: list[str], tokens: list[tuple[str, int, int]], clause: str) -> list[_Count]:
    """The numbers of a clause that count something (not dates, years, times or model names)."""
    counts: list[_Count] = []
    index = 0
    while index < len(words):
        end, value = _number_at(words, index)
        if end == index:
            index += 1
            continue
        if not _excluded(words, tokens, clause, index, end):
            count = _Count(index, end, value)
            count.single_weapon = _one_weapon(words, index)
            top_end, top = _range_top(words, index, end)
            if top_end > end:  # "between 100 and 150 jets": the bottom, with its top as `upper`
                count.last, count.upper, end = top_end, top, top_end
            counts.append(count)
        index = end
    return counts


def _range_top(words: list[str], first: int, end: int) -> tuple[int, float]:
    """The end and value of a range's top after 'between N and', or (end, 0)."""
    if first and words[first - 1] == "between" and words[end : end + 1] == ["and"]:
        top_end, top = _number_at(words, end + 1)
        if top_end > end + 1:
            return top_end, top
    return end, 0.0


def _number_at(words: list[str], index: int) -> tuple[int, float]:
    """The end of a number starting at `index` and its value, or (index, 0)."""
    word = words[index]
    if word[0].isdigit():
        if ":" in word or not re.fullmatch(_DIGITS, word):
            return index, 0.0
        end, text = index + 1, word
    elif word in WORD_VALUES or ("-" in word and word.split("-")[0] in WORD_VALUES):
        if "-" in word and not all(part in WORD_VALUES for part in word.split("-")):
            return index, 0.0
        if (
            word == "one"
            and index + 2 < len(words)
            and words[index + 1 : index + 3] == ["of", "the"]
        ):
            return index, 0.0
        end, text = index + 1, word
    elif word == "half" and words[index + 1 : index + 3] in (["a", "million"], ["a", "billion"]):
        return index + 3, parse_quantity(" ".join(words[index : index + 3]))
    elif word == "a" and index + 1 < len(words) and words[index + 1] in ("dozen", "million"):
        return index + 2, parse_quantity(" ".join(words[index : index + 2]))
    elif word in ("a", "an", "one") and _one_weapon(words, index):
        return index + 1, 1.0
    elif word in ("a", "an", "one") and (person := _one_person(words, index)):
        pair = words[person + 1 : person + 5]  # "a woman and her teenage son": two people
        if pair[:2] in (["and", "her"], ["and", "his"], ["and", "a"], ["and", "an"]):
            other = next((i for i, w in enumerate(pair[2:4]) if w in _RELATIVES), None)
            if other is not None:
                return person + 3 + other, 2.0
        return person, 1.0
    else:
        return index, 0.0
    while end < len(words) and (
        words[end] in WORD_VALUES
        or words[end] in ("hundred", "thousand", "million", "billion", "dozen")
        or (
            (words[end] == "and" and end + 1 < len(words) and words[end + 1] in WORD_VALUES)
            and words[end - 1] == "hundred"
        )
    ):
        text += " " + words[end]
        end += 1
    return end, parse_quantity(text)


def _one_weapon(words: list[str], index: int) -> bool:
    """'a Russian cruise missile slammed into', 'a drone struck': one weapon, when it hit."""
    following = words[index + 1 : index + 5]
    weapon = next((i for i, w in enumerate(following) if w in ("missile", "drone")), None)
    if weapon is None or any(w in _STOP for w in following[:weapon]):
        return False
    return following[weapon + 1 : weapon + 2] in (["struck"], ["hit"], ["slammed"])


def _one_person(words: list[str], index: int) -> int | None:
    """'a man was killed', 'a 70-year-old woman was injured': one person, when hurt.

    The index of the word naming the person, or None."""
    following = words[index + 1 : index + 6]
    person = next((i for i, w in enumerate(following) if w in _ONE_PERSON), None)
    if person is None or any(w in _STOP or w in _CASUALTY for w in following[:person]):
        return None
    rest = words[index + 2 + person : index + 8 + person]
    hurt = any(w in _CASUALTY for w in rest) or (index and words[index - 1] in _CASUALTY)
    return index + 1 + person if hurt else None


def _excluded(
    words: list[str], tokens: list[tuple[str, int, int]], clause: str, first: int, end: int
) -> bool:
    """Dates, years, times, ordinals, model names ('S-300'), 'No. 12', periods ('past 24 hours')."""
    word = words[first]
    before = words[first - 1] if first else ""
    after = words[end] if end < len(words) else ""
    start, stop = tokens[first][1], tokens[end - 1][2]
    if clause[start - 1 : start] in ("-", "/", "#") or clause[stop : stop + 1] in ("-", "/"):
        return True
    if clause[stop : stop + 1].isalpha():  # "15th", "G7"
        return True
    if word.isdigit() and len(word) == 4 and 1900 <= int(word) <= 2100:
        return True
    if _model_number(words, tokens, first, end):
        return True
    if before in _MONTHS or after in _MONTHS or before in _NOT_AFTER:
        return True
    if after in _PERIODS and before in _PERIOD_LEAD:
        return True
    return first > 1 and words[first - 1] == "." and words[first - 2] == "no"


def _model_number(
    words: list[str], tokens: list[tuple[str, int, int]], first: int, end: int
) -> bool:
    """'25 Leopard 1 tanks', 'Nord Stream 1': a small number after a name is the name's."""
    if first < 2 or end - first != 1 or not words[first].isdigit() or len(words[first]) > 2:
        return False
    name = tokens[first - 1][0]
    return name[:1].isupper() and name.isalpha() and words[first - 1] not in _STOP


def _qualifier(words: list[str], first: int) -> Qualifier | None:
    for phrase, qualifier in _QUALIFIERS:
        if tuple(words[max(0, first - len(phrase)) : first]) == phrase:
            return qualifier
    return None


def _is_verb(word: str) -> bool:
    if word in _NOT_VERBS or len(word) < 3:
        return word in ("hit", "shot") or (word in _PARTICIPLES and word not in ("dead",))
    return (
        word.endswith("ed")
        or word in _IRREGULAR
        or (word.endswith("ing") and len(word) > 5)
        or word in ("shot", "died")
    )


def base_participle(word: str) -> str:
    """'deliver' → 'delivered', 'provide' → 'provided', 'buy' → 'bought', 'carry' → 'carried'."""
    if word in _BASE_IRREGULAR:
        return _BASE_IRREGULAR[word]
    if word.endswith("e"):
        return word + "d"
    if word.endswith("y") and word[-2:-1] not in tuple("aeiou"):
        return word[:-1] + "ied"
    return word + "ed"


def participle(word: str) -> str:
    """'launching' → 'launched', 'struck' → 'struck', 'firing' → 'fired', 'shelled' as it is."""
    word = word.lower()
    if word in _PARTICIPLES:
        return _PARTICIPLES[word]
    if word in _ING:
        return _ING[word]
    if word.endswith("ing"):
        stem = word[:-3]
        if stem.endswith("y") and stem[-2:-1] not in tuple("aeiou"):
            return stem[:-1] + "ied"
        if stem.endswith("e"):
            return stem + "d"
        return stem + "ed"
    return word


def _read_around(words: list[str], count: _Count, previous_noun: list[str | None]) -> None:
    """Qualifier, noun phrase, part-of ('13 of the drones'), and the act before or after."""
    count.qualifier = _qualifier(words, count.first)
    position = count.last
    if position < len(words) and words[position] == "of":
        position = _part_of(words, count, position + 1)
    else:
        position = _noun_phrase(words, count, position)
    count.noun_end = position
    if count.bare and count.noun is None:
        count.noun = previous_noun[0]
    if count.noun is None and count.adjective is None:
        following = words[position : position + 4]
        if following[:1] and following[0] in _CASUALTY:
            count.act, count.act_at, count.noun = _CASUALTY[following[0]], position, "people"
            return
        if following[:1] and (
            following[0] in _AUXILIARY or (_is_verb(following[0]) and following[0][0] != "-")
        ):
            count.noun, count.bare = previous_noun[0], True
    if position < len(words) and words[position] in _CASUALTY:
        count.act, count.act_at = _CASUALTY[words[position]], position
        return
    _act_before(words, count)
    if count.act is None:
        _act_after(words, count, position)
    lead = count.first - 1
    while lead > 0 and words[lead] in _QUALIFYING and lead > count.first - 4:
        lead -= 1  # "in at least nine regions"
    if count.act is None and (
        count.noun == "times" or (count.noun in _PLACES and words[lead : lead + 1] == ["in"])
    ):
        _act_of_clause(words, count)
    if count.noun is None and count.act_before and previous_noun[0] in _WEAPONS:
        count.noun = previous_noun[0]  # "…; air defences shot down 26": of the drones before


def _part_of(words: list[str], count: _Count, position: int) -> int:
    """'13 of the drones', '18 of 22 cruise missiles', '35 of them'."""
    if position < len(words) and words[position] in ("them", "these", "those", "which"):
        count.bare = True
        return position + 1
    if position < len(words) and words[position] in ("the", "its", "their"):
        position += 1
    end, whole = _number_at(words, position) if position < len(words) else (position, 0.0)
    if end > position:
        count.whole, position = whole, end
    position = _noun_phrase(words, count, position)
    if count.noun is None and count.whole is not None:
        count.bare = True  # "neutralised 118 of the 146": of the things counted before
    return position


def _noun_phrase(words: list[str], count: _Count, position: int) -> int:
    """Up to four words after the number; the last one before a stop word is the noun."""
    phrase: list[str] = []
    while position < len(words) and words[position] in _NP_LEAD:
        position += 1
    while position < len(words) and len(phrase) < 5:
        word = words[position]
        if word == "/" and phrase and words[position + 1 : position + 2] != [""]:
            position += 2  # a model's variants: "Shahed-131/136 drones", "Kh-101/555 missiles"
            continue
        if word[0].isdigit() and phrase and len(word) <= 2 and word.isdigit():
            position += 1  # "Leopard 1 tanks": the model's number, then the noun
            continue
        if (
            word in ("and", "or")
            and phrase
            and _is_model(phrase[-1])
            and _is_model(words[position + 1] if position + 1 < len(words) else "")
        ):
            phrase.pop()  # "Kh-101 and Kh-555 cruise missiles": two models of one thing
            position += 1
            continue
        if word in _STOP or not word[0].isalpha():
            break
        following = words[position + 1] if position + 1 < len(words) else ""
        is_modifier = following and following not in _STOP and following[0].isalpha()
        if _is_verb(word) and not is_modifier:
            break
        if word.endswith("ing") and phrase and phrase[-1].endswith("s"):
            break  # "agents planning attacks": the noun came before the participle
        if word in _CASUALTY and not phrase:
            break
        phrase.append(word)
        position += 1
    if phrase:
        count.noun = _normal_noun(phrase, count.value)
        if (
            phrase[0].endswith("ed")
            and len(phrase) > 1
            and count.noun in _GENERIC_PEOPLE | {"people"}
        ):
            count.adjective = participle(phrase[0])
    return position


def _is_model(word: str) -> bool:
    """'kh-101', 'm270': a model's designation, letters then a number."""
    return bool(word[:1].isalpha() and word[-1:].isdigit())


def _normal_noun(phrase: list[str], value: float) -> str:
    if set(phrase) & _DRONE_WORDS and phrase[-1] in ("vehicles", "vehicle"):
        return "drones"
    head = phrase[-1].replace("’", "'").removesuffix("'s").replace("-", "_")
    head = _SYNONYMS.get(head, head)
    if any("missile" in word for word in phrase):
        head = "missiles" if head in ("missiles", "missile") else head
    if value == 1 and not head.endswith("s") and head not in _INVARIANT:
        head = "people" if head in _ONE_PERSON else head + "s"
    return head


def _act_before(words: list[str], count: _Count) -> None:
    """The verb just before the number: 'shelled 24', 'launching 116', 'attacked with 14'."""
    index = count.first - 1
    while index >= 0 and words[index] in _QUALIFYING and index > count.first - 4:
        index -= 1
    if (
        index > 0
        and words[index] in ("of", "with", "on")
        and _act_of_preposition(words, count, index)
    ):
        return
    while index >= 0 and words[index] in _FILLERS and index > count.first - 5:
        index -= 1
    if index < 0:
        return
    if index > 1 and words[index - 1] == "or" and _is_verb(words[index - 2]):
        index -= 2  # "downed or suppressed 189": the first verb names the act
    word = words[index]
    if index and words[index - 1] in _MODALS and word.isalpha() and word not in _STOP:
        count.act, count.act_at, count.act_before = base_participle(word), index, True
    elif word in _CASUALTY:
        count.act, count.act_at, count.act_before = _CASUALTY[word], index, True
    elif word == "down" and index and words[index - 1] in ("shot", "shooting", "shoot"):
        count.act, count.act_at, count.act_before = "destroyed", index, True
    elif (
        (_is_verb(word) and not word.endswith("ing"))
        or word in _ING
        or (word.endswith("ing") and _is_verb(word))
    ):
        count.act, count.act_at, count.act_before = participle(word), index, True


def _past_aside(words: list[str], position: int) -> int:
    """Where the verb of '5 people, including two children, were killed' or '200,000 people in
    the Ternopil region were left' starts: after the aside or the place, when a verb follows."""
    if (
        words[position : position + 1] == ["and"]
        and words[position + 1 : position + 2] != [""]
        and position + 2 < len(words)
        and words[position + 2] in _AUXILIARY
    ):
        return position + 2  # "3,790 schools and universities have been damaged"
    if words[position : position + 2] == [",", "including"]:
        close = next(
            (i for i in range(position + 2, position + 8) if i < len(words) and words[i] == ","),
            None,
        )
        if close is not None:
            return close + 1
    if position < len(words) and words[position] == "of":  # "40,000 tonnes of grain bound
        for index in range(position + 1, min(position + 16, len(words) - 1)):  # for …, were"
            if words[index] in ("were", "was") and _is_verb(words[index + 1]):
                return index
            if words[index] in (";", "."):
                break
    if position < len(words) and words[position] in ("in", "near", "from", "at", "on"):
        for index in range(position + 1, min(position + 6, len(words))):
            if words[index] in ("were", "was", "have", "had", "has", "are"):
                return index
            if words[index] in (",", ";"):
                break
    return position


def _act_of_clause(words: list[str], count: _Count) -> None:
    """'struck the plant three times': the nearest verb before, within the clause."""
    for index in range(count.first - 1, max(-1, count.first - CLAUSE_WORDS), -1):
        word = words[index]
        if word == "," and words[index + 1 : index + 4] in (["as", "well", "as"], ["and"]):
            continue  # "struck energy facilities, as well as … in 147 areas"
        if word in (",", ";", ":", "."):
            return
        if words[index + 1 : index + 2] == ["by"] or _REPORTED.fullmatch(word):
            continue  # "facilities used by the army", "confirmed": not the clause's act
        if word.endswith("ing") and index and words[index - 1] != ",":
            continue  # "workshops assembling drones": a noun's modifier, not the clause's verb
        if _is_verb(word) and word not in _AUXILIARY:  # ", targeting … in nine regions"
            count.act, count.act_at, count.act_before = participle(word), index, True
            return


def _act_of_preposition(words: list[str], count: _Count, index: int) -> bool:
    """'the destruction of 59 drones', 'a barrage of 38 missiles', 'attacked … with 40 missiles',
    'sanctions on 18 tankers'."""
    word, lead = words[index], words[max(0, index - CLAUSE_WORDS) : index]
    act = None
    if word == "of" and lead[-1] in ("destruction", "downing") and count.noun in _WEAPONS:
        act = "destroyed"
    elif count.noun in _WEAPONS and (
        (word == "of" and lead[-1] in _LAUNCH_NOUNS)
        or (word == "with" and any(_ATTACK.fullmatch(w) for w in lead))
    ):
        act = "launched"
    elif word == "on" and lead[-1] == "sanctions":
        act = "sanctioned"
    if act:
        count.act, count.act_at, count.act_before = act, index, True
    return act is not None


_HEDGES = [
    [hedge, "to", be]
    for hedge in ("estimated", "believed", "thought", "reported", "said", "expected", "feared")
    for be in ("be", "have")
]


def _act_after(words: list[str], count: _Count, position: int) -> None:
    """'13 drones were shot down', '900 used', '3.7 million people remain displaced'."""
    index = start = _past_aside(words, position)
    if words[index : index + 2] == ["to", "be"]:
        index += 2
    while index < len(words) and index < start + 4 and words[index] in _AUXILIARY:
        index += 1
    if words[index : index + 3] in _HEDGES:  # "are estimated to be displaced"
        index += 3
    while index < len(words) and words[index].endswith("ly") and index < start + 5:
        index += 1
    if index >= len(words):
        return
    word = words[index]
    if word in ("shot", "shooting") and index + 1 < len(words) and words[index + 1] == "down":
        count.act, count.act_at = "destroyed", index
    elif word in _CASUALTY:
        count.act, count.act_at = _CASUALTY[word], index
    elif (
        (index > position or word.endswith("ed") or word in _IRREGULAR)
        and _is_verb(word)
        and (not word.endswith("ing") or index == position)
    ):
        count.act, count.act_at = participle(word), index


def _joined(between: list[str]) -> bool:
    """Only 'and', 'as well as', a comma (and qualifiers) between two counts."""
    return bool(set(between) & {",", "and", "plus", "well", "including"}) and all(
        w in _COORDINATION or w in _FILLERS for w in between
    )


def _share_acts(words: list[str], counts: list[_Count]) -> None:
    """'launched 19 drones as well as six missiles': a number joined to another shares its act."""
    for left, right in pairwise(counts):
        if not _joined(words[left.noun_end : right.first]):
            continue
        aside = words[left.noun_end : right.first][-1:] == ["including"]
        if right.act is None and left.act and (left.act_before or aside):
            right.act, right.act_before = left.act, left.act_before
    for left, right in reversed(list(pairwise(counts))):
        if not _joined(words[left.noun_end : right.first]):
            continue
        if left.act is None and right.act and not right.act_before:
            left.act = right.act


def _named(
    count: _Count,
    clause: str,
    tokens: list[tuple[str, int, int]],
    sides: Callable[[str], list[str]] | None,
) -> list[Figure]:
    """The figure(s) a count makes, named by the codebook."""
    noun, act = count.noun, count.act
    if act in _CASUALTY:
        act = _CASUALTY[act]
    if noun is None and act not in ("killed", "injured"):
        return []
    if noun in _WEAPONS and act in _WEAPON_ACTS:
        act = _WEAPON_ACTS[act]
    if act in ("killed", "injured"):
        name = act
    elif (noun in _GENERIC_PEOPLE and noun not in _KEEP_NOUN) or noun == "people":
        act = act or count.adjective
        name = act if act else "people" if noun in ("people", "persons") else noun
    else:
        name = f"{noun}_{act}" if act else str(noun)
    side = _side(count, clause, tokens, sides) if sides else None
    figure = Figure(name, count.value, count.qualifier, upper=count.upper, side=side)
    found = [figure]
    if count.whole is not None:
        whole_name = f"{noun}_launched" if noun in _WEAPONS else str(noun)
        if whole_name != name:
            found.append(replace(figure, name=whole_name, value=count.whole, qualifier=None))
    return found


def _side(
    count: _Count,
    clause: str,
    tokens: list[tuple[str, int, int]],
    sides: Callable[[str], list[str]],
) -> str | None:
    """The party whose act the figure counts: named after 'by', else last before the act.

    A party named before "said"/"reports that" is the speaker, not the agent, unless what it
    says is about itself ("the air force said it shot down…").
    """
    end = tokens[count.noun_end - 1][2] if count.noun_end else len(clause)
    agent = re.match(r"\s*(?:\w+\s+){0,3}?by\s+((?:[\w'’.-]+\s*){1,3})", clause[end : end + 100])
    if agent:
        named = sides(agent.group(1))
        if named:
            return named[0]
    at = count.act_at if count.act_at is not None and count.act_before else count.first
    stop = tokens[at][1] if at < len(tokens) else len(clause)
    text = clause[max(0, stop - SIDE_LOOK_BACK) : stop]
    reported = list(_REPORTED.finditer(text))
    if reported and not _SPEAKER_ACTS.match(text[reported[-1].end() :]):
        text = text[reported[-1].end() :]
    before = sides(text)
    return before[-1] if before else None


def first_money(text: str) -> int | None:
    """Where the text first states an amount of money, or None."""
    match = _MONEY.search(text)
    while match and match["sa"] and (match["post"] or "").lower() not in _CURRENCY_WORDS:
        match = _MONEY.search(text, match.end())
    return match.start() if match else None


def _money(sentence: str, taken: list[tuple[int, int]]) -> list[Figure]:
    found = []
    giving = _AID_CONTEXT.search(sentence) is not None
    stated_end = -1
    for match in _MONEY.finditer(sentence):
        post = (match["post"] or "").lower()
        if match["sa"] and post not in _CURRENCY_WORDS:
            continue
        taken.append((match.start(), match.end()))
        converted = sentence[stated_end : match.start()].strip() == "("
        stated_end = match.end()
        if converted:
            continue  # "7.5bn crowns ($710m)": the amount once, in its own currency
        if not giving or _NOT_NEW_MONEY.search(
            sentence[max(0, match.start() - 80) : match.start()]
        ):
            continue
        if match["pre"]:
            currency = _CURRENCY_SIGNS[match["pre"].lower()]
        elif match["nation"]:
            currency = _NATIONAL_CROWNS[match["nation"].lower()]
        else:
            currency = _CURRENCY_WORDS[(match["code"] or post).lower()]
            if post in ("crowns", "kroner", "kronor"):
                named = (code for country, code in _CROWN_COUNTRIES if country.search(sentence))
                currency = next(named, currency)
        amount = match["pa"] or match["sa"]
        scale = re.search(_SCALE + "$", amount)
        number = amount[: scale.start()] if scale else amount
        value = parse_quantity(number.strip(), scale.group(0) if scale else None)
        lead = sentence[max(0, match.start() - 20) : match.start()].lower().split()
        found.append(
            Figure(
                f"aid_value_{currency}",
                value,
                _qualifier(lead, len(lead)),
                unit=currency.upper(),
            )
        )
    return found


def _percentages(sentence: str, taken: list[tuple[int, int]]) -> list[Figure]:
    found = []
    for match in _PERCENT.finditer(sentence):
        taken.append((match.start(), match.end()))
        thing = _PERCENT_OF.match(sentence[match.end() :])
        noun = "share"
        if thing and thing.group(1).strip():
            phrase = []
            for word in thing.group(1).lower().split():
                if word in _STOP:
                    break
                phrase.append(word)
            noun = phrase[-1].replace("-", "_").removesuffix("'s") if phrase else noun
        lower = match["a"] or match["c"] or match["d"] or match["n"]
        upper = float(match["b"].replace(",", "")) if match["b"] else None
        lead = sentence[max(0, match.start() - 20) : match.start()].lower().split()
        found.append(
            Figure(
                f"{noun}_percent",
                float(lower.replace(",", "")),
                _qualifier(lead, len(lead)),
                unit="%",
                upper=upper,
            )
        )
    return found


def _distances(sentence: str, taken: list[tuple[int, int]]) -> list[Figure]:
    found = []
    for match in _DISTANCE.finditer(sentence):
        taken.append((match.start(), match.end()))
        value = parse_quantity(match["q"])
        upper = None
        if match["low"]:  # "between 2 and 3 km": the range's bottom, its top as `upper`
            value, upper = parse_quantity(match["low"]), value
        if match["unit"].lower().startswith("mile"):
            value = round(value * 1.609344, 1)  # "250 miles" is 402.3 km
            upper = round(upper * 1.609344, 1) if upper is not None else None
        lead = sentence[max(0, match.start() - 20) : match.start()].lower().split()
        qualifier = _qualifier(lead, len(lead))
        found.append(Figure("distance_km", value, qualifier, unit="km", upper=upper))
    return found
