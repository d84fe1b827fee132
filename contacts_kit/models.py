"""Imports every table module, so `Base.metadata` is complete (used by migrations)."""

from contacts_kit.auth.models import RefreshToken, User

__all__ = ["RefreshToken", "User"]
