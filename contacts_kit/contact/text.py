"""Text as searched: one folded form that makes search case- and accent-insensitive the same
way on every database (what is stored is normalized by `contacts_kit.fields`).

- `search_text` holds the first name, last name and email folded (NFKD, combining marks
  dropped, case-folded, Latin letters without a decomposition transliterated) and joined by
  U+001F, a character no field may contain. A query is folded the same way and matched with
  LIKE, so `ZOË`, `zoe` and `Zoë` all find "Zoë", and `orsted`, `lukasz`, `zolc` find Ørsted,
  Łukasz and Żółć, on SQLite and PostgreSQL alike; a pattern can tell the fields apart by
  their separators. Other scripts (Cyrillic, Greek, CJK) are kept as they are: a query in
  them finds them, a Latin one does not.
"""

from __future__ import annotations

import unicodedata
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


def search_text(first_name: str | None, last_name: str | None, email: str | None) -> str:
    """The folded search column of a contact."""
    return SEPARATOR.join((fold(first_name), fold(last_name), fold(email)))


def _escaped(needle: str) -> str:
    return (
        fold(needle)
        .replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )


# Where the needle may sit in `first<SEP>last<SEP>email`: anywhere, or between the right
# separators (a field holds no separator, so the count of them on each side names the field).
_FIELD_PATTERNS = {
    "q": "%{}%",
    "first_name": "%{}%" + SEPARATOR + "%" + SEPARATOR + "%",
    "last_name": "%" + SEPARATOR + "%{}%" + SEPARATOR + "%",
    "email": "%" + SEPARATOR + "%" + SEPARATOR + "%{}%",
}


def like_pattern(field: str, needle: str) -> str:
    """The LIKE pattern of `search_text` that finds `needle` in `field` (or, for `q`, in any
    field); `%`, `_` and the escape character in the needle match themselves."""
    return _FIELD_PATTERNS[field].format(_escaped(needle))


def tag_key(name: str) -> str:
    """What makes two tag names the same tag: NFC, then case-folded (accents count)."""
    return unicodedata.normalize("NFC", name).casefold()
