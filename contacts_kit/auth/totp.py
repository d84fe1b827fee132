"""Time-based one-time passwords (RFC 6238, with pyotp), their QR codes (segno), recovery
codes, and the encryption of the secrets at rest. No SQL and no HTTP here."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

from contacts_kit import secretbox

RECOVERY_CODES = 10
"""Recovery codes given when two-factor authentication is turned on."""
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed
_RECOVERY_GROUPS = 3
_RECOVERY_GROUP = 4
_DRIFT_STEPS = 1
"""Codes of the time steps next to the current one are accepted too (clock drift)."""


class SecretBox(secretbox.SecretBox):
    """The TOTP secrets' box (`contacts_kit.secretbox`): a copy of the database alone does
    not give anyone's second factor. Rotating the signing secret makes the stored secrets
    unreadable: users enrol again."""

    def __init__(self, secret: bytes) -> None:
        super().__init__(secret, b"contacts-kit totp secrets")


def new_secret() -> str:
    """A new base32 secret of 160 bits, as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The `otpauth://totp/...` URI authenticator apps read."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The URI as a QR code, an SVG document to show as it is."""
    return segno.make(uri, error="m").svg_inline(scale=4, border=2)


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code `code` is (the current one or a neighbour), or None."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - _DRIFT_STEPS, current + _DRIFT_STEPS):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """`RECOVERY_CODES` codes such as `k7mq-2xrp-9tdh` (59 bits each)."""
    return [
        "-".join(
            "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_GROUP))
            for _ in range(_RECOVERY_GROUPS)
        )
        for _ in range(RECOVERY_CODES)
    ]


def recovery_code_hash(code: str) -> str:
    """The stored form of a recovery code, as typed in any letter case, with or without
    dashes and spaces. Recovery codes are random, so a plain digest is enough."""
    normal = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(normal.encode()).hexdigest()
