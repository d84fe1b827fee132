"""JWT encoding and verification with joserfc: HS256 only, every claim checked explicitly."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from contacts_kit.auth.errors import InvalidToken

ALGORITHM = "HS256"


class TokenType(StrEnum):
    """The `type` claim: a token of one type is never accepted as another."""

    ACCESS = "access"
    REFRESH = "refresh"
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"
    MFA = "mfa"
    OAUTH_FLOW = "oauth_flow"
    OAUTH_LINK = "oauth_link"


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified claims of a token."""

    sub: str
    jti: str
    type: TokenType
    iat: int
    exp: int
    extra: dict[str, Any]


class TokenCodec:
    """Signs and verifies the JWTs of one `ContactsKit` instance."""

    def __init__(self, secret: bytes, now: Callable[[], datetime], cache_size: int = 4096) -> None:
        self._key = OctKey.import_key(secret)
        self._now = now
        # Tokens already verified, so a client's repeated requests skip the HMAC and the
        # parsing; time-dependent checks still run on every use.
        self._verified: OrderedDict[tuple[str, TokenType], TokenClaims] = OrderedDict()
        self._cache_size = cache_size

    def encode(
        self, subject: str, token_type: TokenType, ttl: timedelta, **extra: Any
    ) -> tuple[str, TokenClaims]:
        """Return a signed token and its claims; `extra` claims are added as they are."""
        issued = int(self._now().timestamp())
        claims = TokenClaims(
            sub=subject,
            jti=uuid.uuid4().hex,
            type=token_type,
            iat=issued,
            exp=issued + int(ttl.total_seconds()),
            extra=extra,
        )
        payload = {
            **extra,
            "sub": claims.sub,
            "jti": claims.jti,
            "type": claims.type.value,
            "iat": claims.iat,
            "exp": claims.exp,
        }
        return jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, payload, self._key, [ALGORITHM]), claims

    def decode(self, token: str, expected: TokenType) -> TokenClaims:
        """Verify signature, algorithm, expiry and type; raise `InvalidToken` on any failure.

        joserfc's `decode` checks only the signature, so the claims are validated here.
        """
        now = int(self._now().timestamp())
        known = self._verified.get((token, expected))
        if known is not None:
            # The same time rules as a first verification (see _verify).
            if known.exp < now or known.iat > now + 60:
                raise InvalidToken()
            self._verified.move_to_end((token, expected))
            return known
        claims = self._verify(token, expected, now)
        self._verified[(token, expected)] = claims
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str, expected: TokenType, now: int) -> TokenClaims:
        registry = jwt.JWTClaimsRegistry(
            now=now,
            sub={"essential": True},
            jti={"essential": True},
            iat={"essential": True},
            exp={"essential": True},
            type={"essential": True, "value": expected.value},
        )
        if not _canonical(token):
            raise InvalidToken()
        try:
            decoded = jwt.decode(token, self._key, algorithms=[ALGORITHM])
            registry.validate(decoded.claims)
            claims = decoded.claims
            if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
                raise InvalidToken()
            if claims["iat"] > now + 60:
                raise InvalidToken()
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken() from exc
        known = {"sub", "jti", "type", "iat", "exp"}
        return TokenClaims(
            sub=claims["sub"],
            jti=claims["jti"],
            type=TokenType(claims["type"]),
            iat=claims["iat"],
            exp=claims["exp"],
            extra={k: v for k, v in claims.items() if k not in known},
        )


def _canonical(token: str) -> bool:
    """Whether every segment is base64url written the one way that encodes its bytes.

    Decoders ignore the spare bits of a segment's last character, so without this check a
    changed character could leave the token valid; with it, any change to a token fails.
    """
    segments = token.split(".")
    if len(segments) != 3:
        return False
    for segment in segments:
        try:
            raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        except (ValueError, binascii.Error):
            return False
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != segment:
            return False
    return True


def hash_token(token: str) -> str:
    """The SHA-256 of a token: what the database keeps instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()
