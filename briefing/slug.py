"""Names made from free text for files, ids and series: lower-case letters and digits only."""

from __future__ import annotations

import re

_OTHER_THAN_LETTERS_AND_DIGITS = re.compile(r"[^a-z0-9]+")


def slug(text: str, separator: str = "-") -> str:
    """'Russia launches 116 drones!' → 'russia-launches-116-drones'; '' when nothing is left."""
    return _OTHER_THAN_LETTERS_AND_DIGITS.sub(separator, text.lower()).strip(separator)
