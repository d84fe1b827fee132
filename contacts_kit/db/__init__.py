"""Declarative base, engine and session factories."""

from contacts_kit.db.base import Base
from contacts_kit.db.engine import make_engine, make_session_factory

__all__ = ["Base", "make_engine", "make_session_factory"]
