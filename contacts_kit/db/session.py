"""The request's transaction: commit at the end, roll back on error, then after-commit work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger("contacts_kit.db")

_AFTER_COMMIT = "contacts_kit_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[object]]) -> None:
    """Run `callback` once the request's transaction has committed (never on rollback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


def _never() -> bool:
    return False


@asynccontextmanager
async def transaction(
    factory: async_sessionmaker[AsyncSession], failed: Callable[[], bool] = _never
) -> AsyncIterator[AsyncSession]:
    """Yield a session; commit when the caller finishes, roll back when it raises or when
    `failed()` says its work was answered with an error (an error turned into a response
    before it reached this generator)."""
    async with factory() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        if failed():
            session.info.pop(_AFTER_COMMIT, None)
            await session.rollback()
            return
        await session.commit()
        for callback in session.info.pop(_AFTER_COMMIT, []):
            await callback()
