"""Secrets out of the access log. Links the kit mails or hands out carry secrets in their
address: verification and reset tokens and provider sign-in codes in the query, the birthday
feed's secret in the path. A server's access log would keep them; this filter writes `***`
in their place. `contacts-kit serve` installs it on uvicorn's access logger; a host running
its own server adds it there too (`logging.getLogger("uvicorn.access").addFilter(...)`).
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

SECRET_PARAMETERS = frozenset(
    {"token", "code", "state", "link_token", "mfa_token", "refresh_token", "access_token"}
)
"""Query parameters whose values are secrets, wherever they appear."""

_SECRET_SEGMENTS = re.compile(r"(/calendar/)[^/]+")
"""Path segments that are secrets: the birthday feed's."""

HIDDEN = "***"


def redact_target(target: str) -> str:
    """A request target (path and query) with every secret replaced by `***`."""
    path, mark, query = target.partition("?")
    path = _SECRET_SEGMENTS.sub(rf"\g<1>{HIDDEN}", path)
    if query:
        pairs = [
            (name, HIDDEN if name.lower() in SECRET_PARAMETERS else value)
            for name, value in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="*")
    return path + mark + query


class RedactSecrets(logging.Filter):
    """A filter for uvicorn's access log (`'%s - "%s %s HTTP/%s" %d'`, the request target
    third): the target leaves with its secrets replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's target; never drop the record."""
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_target(args[2]), *args[3:])
        return True
