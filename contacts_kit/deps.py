"""What every module's routes share: the route class, the request's transaction, the body
limits. Domain-free: the contacts module (`contacts_kit.contact.deps`) and the accounts module
(`contacts_kit.auth.deps`) each build their own dependencies on top of it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contacts_kit.db.session import transaction
from contacts_kit.http import failed_attempt, kit_route_class
from contacts_kit.settings import Settings

MULTIPART_OVERHEAD = 16 * 1024
"""Bytes of multipart framing allowed around an uploaded file."""


class Plumbing:
    """The route class and the transaction of one kit's routes, whatever module they are of.

    Args:
        settings: the kit's settings (the body limit is read from them).
        sessions: the session factory of the request's transaction.
        host_route_class: the host's own `APIRoute` subclass, wrapped around the kit's.
    """

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        host_route_class: type[APIRoute] = APIRoute,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.host_route_class = host_route_class
        self.route_class = self.route_class_for(settings.max_body_bytes)
        """The class of the kit's routes: the host's, the kit's error answers, the body limit."""

    async def session(self, request: Request) -> AsyncIterator[AsyncSession]:
        """The request's transaction: commits when the endpoint returns, rolls back when it
        raises or its error is answered."""
        # A context manager, not a generator iterated: an error thrown into this dependency
        # reaches the transaction's own exit, which rolls back and closes the session.
        async with transaction(self.sessions, failed_attempt(request)) as session:
            yield session

    def route_class_for(self, body_limit: int) -> type[APIRoute]:
        """The class of a kit route that accepts bodies of up to `body_limit` bytes."""
        return kit_route_class(self.host_route_class, body_limit)

    def upload_route_class(self, file_limit: int) -> type[APIRoute]:
        """The class of a kit route taking a file of up to `file_limit` bytes, with room for
        the multipart framing around it."""
        return self.route_class_for(file_limit + MULTIPART_OVERHEAD)
