"""Text as searched: one folded form that makes search case- and accent-insensitive the same
way on every database (what is stored is normalized by `contacts_kit.fields`).

- `search_text` holds four fields joined by U+001F, a character no field may contain: the
  first name, the last name, every email, and the rest (the phones' digits, the
  organisation, the nickname), each folded (NFKD, combining marks dropped, case-folded, Latin
  letters without a decomposition transliterated). A query is folded the same way and matched with
  LIKE, so `ZOË`, `zoe` and `Zoë` all find "Zoë", and `orsted`, `lukasz`, `zolc` find Ørsted,
  Łukasz and Żółć, on SQLite and PostgreSQL alike; a pattern can tell the fields apart by
  their separators. Other scripts (Cyrillic, Greek, CJK) are kept as they are: a query in
  them finds them, a Latin one does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from anyascii import anyascii

SEPARATOR = "\x1f"
LIKE_ESCAPE = "\\"


def fold(text: str | None) -> str:
    """`text` as search compares it: decomposed, without combining marks, case-folded, and
    the Latin letters that have no decomposition (Ø, Ł, Đ, Æ, Œ, Þ, ...) spelled in ASCII."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    folded = bare.casefold()
    if not folded.isascii():
        folded = "".join(_latin_ascii(char) for char in folded)
    return unicodedata.normalize("NFC", folded)


@lru_cache(maxsize=4096)
def _latin_ascii(char: str) -> str:
    """A Latin letter in ASCII (`ø` -> `o`, `æ` -> `ae`); any other character as it is."""
    if char.isascii() or not unicodedata.name(char, "").startswith("LATIN "):
        return char
    return anyascii(char).casefold() or char


def search_text(
    first_name: str | None,
    last_name: str | None,
    emails: Sequence[str] = (),
    others: Sequence[str] = (),
) -> str:
    """The folded search column of a contact: its names, its `emails` and the `others`
    (phone digits, organisation, nickname), each list joined by spaces."""
    return SEPARATOR.join(
        (fold(first_name), fold(last_name), fold(" ".join(emails)), fold(" ".join(others)))
    )


_PHONE_LIKE = re.compile(r"^[+\d\s().\-/]*\d[+\d\s().\-/]*$")
_NOT_DIGIT = re.compile(r"\D")


def phone_needle(text: str) -> str | None:
    """The digits of a query written as a phone number (`+38 050 123 45 67`, `050-123-4567`,
    `(0)50 1234567`), which match the digits `search_text` keeps of each phone; None for
    any other query."""
    if not _PHONE_LIKE.match(text):
        return None
    digits = _NOT_DIGIT.sub("", text)
    return digits if len(digits) >= 3 else None


def _escaped(needle: str) -> str:
    return (
        fold(needle)
        .replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


# Where the needle may sit in `first<SEP>last<SEP>emails<SEP>others`: anywhere, or between the right
# separators (a field holds no separator, so the count of them on each side names the field).
_FIELD_PATTERNS = {
    "q": "%{}%",
    "first_name": "%{}%" + SEPARATOR + "%" + SEPARATOR + "%" + SEPARATOR + "%",
    "last_name": "%" + SEPARATOR + "%{}%" + SEPARATOR + "%" + SEPARATOR + "%",
    "email": "%" + SEPARATOR + "%" + SEPARATOR + "%{}%" + SEPARATOR + "%",
}


def like_pattern(field: str, needle: str) -> str:
    """The LIKE pattern of `search_text` that finds `needle` in `field` (or, for `q`, in any
    field); `%`, `_` and the escape character in the needle match themselves."""
    if field == "q":
        needle = phone_needle(needle) or needle
    return _FIELD_PATTERNS[field].format(_escaped(needle))


def tag_key(name: str) -> str:
    """What makes two tag names the same tag: NFC, then case-folded (accents count)."""
    return unicodedata.normalize("NFC", name).casefold()
