"""Where a group of the kit's routes is declared: a router of its own, for a host app to
include, or straight onto an app's router under a prefix.

FastAPI (0.16x) keeps an included router as a nested router that is matched on every request,
which costs about 5% of a cached read per level of nesting (docs/benchmarks.md).
`ContactsKit.add_routes` declares the routes on the app's own router instead, with the same
paths, tags, responses and operation ids as `include_router` would give them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.types import DecoratedCallable

Responses = dict[int | str, dict[str, Any]]


class Routes:
    """Declares routes on `router` under `prefix`, each with `tags` before its own and
    `responses` merged under its own, as `router.include_router(prefix=, tags=)` would."""

    def __init__(
        self,
        router: APIRouter | None = None,
        *,
        prefix: str = "",
        tags: list[str] | None = None,
        responses: Responses | None = None,
    ) -> None:
        self.router = router if router is not None else APIRouter()
        self.prefix = prefix
        self.tags = list(tags or [])
        self.responses: Responses = dict(responses or {})

    def within(self, *, responses: Responses) -> Routes:
        """The same place, with `responses` added to every route's."""
        return Routes(
            self.router,
            prefix=self.prefix,
            tags=self.tags,
            responses={**self.responses, **responses},
        )

    def get(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Declare a GET route (the options of `APIRouter.get`)."""
        return self._route("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Declare a POST route."""
        return self._route("POST", path, options)

    def put(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Declare a PUT route."""
        return self._route("PUT", path, options)

    def patch(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Declare a PATCH route."""
        return self._route("PATCH", path, options)

    def delete(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Declare a DELETE route."""
        return self._route("DELETE", path, options)

    def _route(
        self, method: str, path: str, options: dict[str, Any]
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        tags = [*self.tags, *(options.pop("tags", None) or [])]
        responses = {**self.responses, **(options.pop("responses", None) or {})}
        return self.router.api_route(
            self.prefix + path,
            methods=[method],
            tags=tags or None,
            responses=responses or None,
            **options,
        )
