"""Reusable field types of the request bodies."""

from __future__ import annotations

import re
from typing import Annotated

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
