"""The token codec on its own: every claim is checked, not only the signature."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from contacts_kit.auth.errors import InvalidToken
from contacts_kit.auth.tokens import TokenCodec, TokenType

SECRET = b"k" * 40
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _codec(secret: bytes = SECRET) -> TokenCodec:
    return TokenCodec(secret, lambda: NOW)


def _raw(claims: dict[str, Any], secret: bytes = SECRET) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))


def _claims(**overrides: Any) -> dict[str, Any]:
    issued = int(NOW.timestamp())
    claims: dict[str, Any] = {
        "sub": "user",
        "jti": "j",
        "type": "access",
        "iat": issued,
        "exp": issued + 60,
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def test_a_token_round_trips_with_its_claims() -> None:
    token, claims = _codec().encode("user", TokenType.ACCESS, timedelta(minutes=1), ver=3)
    decoded = _codec().decode(token, TokenType.ACCESS)
    assert decoded == claims
    assert decoded.extra == {"ver": 3}


@pytest.mark.parametrize("expected", [TokenType.REFRESH, TokenType.VERIFY_EMAIL])
def test_a_token_of_another_type_is_refused(expected: TokenType) -> None:
    token, _ = _codec().encode("user", TokenType.ACCESS, timedelta(minutes=1))
    with pytest.raises(InvalidToken):
        _codec().decode(token, expected)


@pytest.mark.parametrize(
    "claims",
    [
        _claims(sub=None),
        _claims(jti=None),
        _claims(type=None),
        _claims(iat=None),
        _claims(exp=None),
        _claims(exp=int(NOW.timestamp()) - 1),
        _claims(exp="tomorrow"),
        _claims(iat=int(NOW.timestamp()) + 3600),
        _claims(sub=42),
    ],
    ids=[
        "no-sub",
        "no-jti",
        "no-type",
        "no-iat",
        "no-exp",
        "expired",
        "exp-text",
        "future-iat",
        "sub-number",
    ],
)
def test_bad_claims_are_refused(claims: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        _codec().decode(_raw(claims), TokenType.ACCESS)


def test_a_token_signed_with_another_key_is_refused() -> None:
    token = _raw(_claims(), secret=b"o" * 40)
    with pytest.raises(InvalidToken):
        _codec().decode(token, TokenType.ACCESS)
    assert _codec().decode(_raw(_claims()), TokenType.ACCESS).sub == "user"


def test_a_remembered_token_still_expires() -> None:
    now = [NOW]
    codec = TokenCodec(SECRET, lambda: now[0])
    token, _ = codec.encode("user", TokenType.ACCESS, timedelta(minutes=1))
    assert codec.decode(token, TokenType.ACCESS).sub == "user"
    assert codec.decode(token, TokenType.ACCESS).sub == "user"  # from the verified cache
    now[0] = NOW + timedelta(minutes=2)
    with pytest.raises(InvalidToken):
        codec.decode(token, TokenType.ACCESS)
    with pytest.raises(InvalidToken):
        codec.decode(token, TokenType.REFRESH)  # the cache is per expected type too
