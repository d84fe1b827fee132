"""Imports every table module, so `Base.metadata` is complete (used by migrations)."""

from contacts_kit.auth.models import RefreshToken, User
from contacts_kit.contact.models import Contact

__all__ = ["Contact", "RefreshToken", "User"]
