"""Declarative base, the engine and the request's transaction."""
