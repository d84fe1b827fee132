"""Reusable field types of the request bodies."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator

# NUL and other C0 controls (tab, newline and carriage return allowed), and lone surrogates
# that no database can store as UTF-8 text.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _printable(value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError("must not contain control characters or unpaired surrogates")
    return value


Printable = AfterValidator(_printable)
"""Rejects NUL bytes, control characters and lone surrogates; put it after the constraints."""

CleanStr = Annotated[str, Printable]
"""A string without NUL bytes, control characters or lone surrogates."""


# Zero-width and other invisible characters that would make a name look empty.
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u3164\u115f\u1160")


def normal(text: str) -> str:
    """Text as stored: NFC, so a name typed decomposed (`Jose` + U+0301) equals the same
    name typed composed (`José`)."""
    return unicodedata.normalize("NFC", text)


def normal_email(text: str) -> str:
    """An email as stored and compared: NFKC and lower-cased, so a fullwidth
    `\uff41lice@example.com` is `alice@example.com`."""
    return unicodedata.normalize("NFKC", text).lower()


def _visible(text: str) -> str:
    if not any(not (char.isspace() or char in _INVISIBLE) for char in text):
        raise ValueError("must contain a visible character")
    return text


Normal = AfterValidator(normal)
"""Stores text in NFC."""

Visible = AfterValidator(_visible)
"""Refuses text made only of whitespace and invisible characters (zero-width spaces)."""


def not_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of a value that may be left out but is never null: its schema loses
    the `null` alternative and the `null` default, so a generated client never sends null."""
    options = schema.pop("anyOf", None)
    if options is not None:
        kept = [option for option in options if option.get("type") != "null"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    if "default" in schema and schema["default"] is None:
        del schema["default"]


_ETAGC = r"[\x21\x23-\x2b\x2d-\x7e\x80-\xff]"
ENTITY_TAGS_PATTERN = rf'^[ \t]*(\*|(W/)?"{_ETAGC}*"([ \t]*,[ \t]*(W/)?"{_ETAGC}*")*)[ \t]*$'
"""`*` or a list of entity tags, as `If-Match` and `If-None-Match` take them (RFC 9110, 13.1):
what the schema promises; the kit's parser accepts exactly these (a malformed one is a 400)."""


def entity_tags(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of an optional `If-Match`/`If-None-Match` value: never null, and of
    the entity-tag grammar."""
    not_null(schema)
    schema["pattern"] = ENTITY_TAGS_PATTERN
