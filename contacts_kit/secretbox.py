"""Secrets kept encrypted at rest (TOTP secrets, webhook signing secrets): AES-GCM under a
key derived (HKDF-SHA256) from the kit's secret for one purpose, each sealed value bound to
its owner, so a copy of the database alone gives none of them and a row copied to another
owner does not open."""

from __future__ import annotations

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretBox:
    """Seals and opens the secrets of one purpose (`b"contacts-kit totp secrets"`, ...).
    Rotating the kit's secret makes what was sealed unreadable."""

    def __init__(self, secret: bytes, purpose: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)
        self._aead = AESGCM(key)

    def seal(self, plain: str, owner: str) -> str:
        """The secret encrypted, bound to its owner."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plain.encode(), owner.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, sealed: str, owner: str) -> str | None:
        """The secret, or None when it was sealed under another key or for another owner."""
        raw = base64.urlsafe_b64decode(sealed.encode())
        try:
            return self._aead.decrypt(raw[:12], raw[12:], owner.encode()).decode()
        except InvalidTag:
            return None
