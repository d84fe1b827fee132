"""contacts-kit: a complete, secure contacts service for FastAPI applications."""

from contacts_kit.__about__ import __version__
from contacts_kit.app import create_app
from contacts_kit.hookspecs import hookimpl
from contacts_kit.kit import ContactsKit
from contacts_kit.settings import Settings

__all__ = ["ContactsKit", "Settings", "__version__", "create_app", "hookimpl"]
