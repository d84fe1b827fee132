"""The label of a card's entry (`home`, `work`, `mobile`, `other`, or free text) and the vCard
parameters it is read from and written as: `TYPE` values (RFC 6350, 6.4.1; `CELL` is
`mobile`), or Apple's grouped `X-ABLabel` for any other text. No SQL and no HTTP here."""

from __future__ import annotations

import re
from collections.abc import Iterable

DEFAULT_TYPES = frozenset({"PREF", "INTERNET", "VOICE", "X400"})
"""Types that say nothing a label would: the preferred entry is the first, an email is on
the internet, a phone carries voice unless said otherwise."""
TYPE_WORDS = frozenset(
    {
        "HOME",
        "WORK",
        "CELL",
        "FAX",
        "PAGER",
        "TEXT",
        "VIDEO",
        "TEXTPHONE",
        "OTHER",
        "MAIN",
        "IPHONE",
        "CAR",
        "ISDN",
        "MSG",
        "POSTAL",
        "PARCEL",
        "DOM",
        "INTL",
    }
)
"""Types a label may be written as, lower-cased, joined by commas (`mobile` for CELL)."""
_APPLE_LABEL = re.compile(r"^_\$!<(.+)>!\$_$")


def label_of(types: Iterable[str], apple_label: str | None = None) -> str | None:
    """The label of an entry with these `TYPE` values (and its group's `X-ABLabel`, which
    wins): `TYPE=CELL` -> `mobile`, `TYPE=WORK,FAX` -> `fax,work`, `_$!<Other>!$_` ->
    `other`, `Grandma` -> `Grandma`; None for none but the default types."""
    if apple_label and apple_label.strip():
        wrapped = _APPLE_LABEL.match(apple_label.strip())
        return wrapped.group(1).lower() if wrapped else apple_label.strip()
    words = sorted({kind.strip().upper() for kind in types if kind.strip()} - DEFAULT_TYPES)
    return ",".join("mobile" if word == "CELL" else word.lower() for word in words) or None


def types_of(label: str | None) -> list[str] | None:
    """The `TYPE` values that write `label` (none for no label); None when it is free text,
    written as an `X-ABLabel` instead."""
    if label is None:
        return []
    words = ["CELL" if word == "mobile" else word.upper() for word in label.split(",")]
    return words if all(word in TYPE_WORDS for word in words) else None
