"""Where a group of the kit's routes is declared: a router of its own, for a host app to
include, or straight onto an app's router under a prefix.

FastAPI (0.16x) keeps an included router as a nested router that is matched on every request,
which costs about 5% of a cached read per level of nesting (docs/benchmarks.md).
`ContactsKit.add_routes` declares the routes on the app's own router instead, with the same
paths, tags, responses and operation ids as `include_router` would give them, and its busy
reads as `DirectRoute`s.
"""

from __future__ import annotations

import inspect
from collections import abc
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import APIRouter
from fastapi import routing as fastapi_routing
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.types import DecoratedCallable
from pydantic import BaseModel, Json
from starlette.requests import Request
from starlette.responses import Response

try:
    from fastapi.exceptions import EndpointContext
    from fastapi.telemetry import get_telemetry_data
except ImportError:  # pragma: no cover - an older FastAPI, whose handler is kept throughout
    DIRECT_READS_SUPPORTED = False
else:
    DIRECT_READS_SUPPORTED = True

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
        direct_reads: bool = False,
    ) -> None:
        self.router = router if router is not None else APIRouter()
        self.prefix = prefix
        self.tags = list(tags or [])
        self.responses: Responses = dict(responses or {})
        # Only for routes declared on an app itself: FastAPI rebuilds the handler of an
        # included route with the includer's dependencies, which `DirectRoute` does not see.
        self.direct_reads = direct_reads

    def within(self, *, responses: Responses) -> Routes:
        """The same place, with `responses` added to every route's."""
        return Routes(
            self.router,
            prefix=self.prefix,
            tags=self.tags,
            responses={**self.responses, **responses},
            direct_reads=self.direct_reads,
        )

    def get(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Declare a GET route (the options of `APIRouter.get`)."""
        return self._route("GET", path, options)

    def read(self, path: str, **options: Any) -> Callable[[DecoratedCallable], DecoratedCallable]:
        """Declare a busy GET route: a `DirectRoute` when declared on an app itself."""
        return self._route("GET", path, options, DirectRoute if self.direct_reads else None)

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
        self,
        method: str,
        path: str,
        options: dict[str, Any],
        route_class: type[APIRoute] | None = None,
    ) -> Callable[[DecoratedCallable], DecoratedCallable]:
        tags = [*self.tags, *(options.pop("tags", None) or [])]
        responses = {**self.responses, **(options.pop("responses", None) or {})}

        def declare(endpoint: DecoratedCallable) -> DecoratedCallable:
            self.router.add_api_route(
                self.prefix + path,
                endpoint,
                methods=[method],
                tags=tags or None,
                responses=responses or None,
                route_class_override=route_class,
                **options,
            )
            return endpoint

        return declare


class DirectRoute(APIRoute):
    """A read route that solves its dependencies and parameters itself, where it can tell
    that FastAPI would do exactly that and nothing more.

    FastAPI's generic request handler (`solve_dependencies`, `request_params_to_args`) costs
    about a fifth of a cached read by id (docs/benchmarks.md). The direct handler is built
    only for the shape it reproduces in full, checked once when the route is created:

    - sub-dependencies that are coroutines taking nothing or the request, none of them twice,
      with no dependencies of their own and no concurrency limit;
    - path and query parameters of scalar types, under their own names, with immutable
      defaults, and no required query parameter; no body, header, cookie, response,
      background-tasks or security-scopes parameter;
    - an endpoint annotated to return a `Response`, which FastAPI would hand on as it is.

    The parameters go through FastAPI's own `ModelField.validate`, in FastAPI's order, so the
    values and the 422 errors are FastAPI's. A request that arrives while
    `app.dependency_overrides` is not empty, or while FastAPI's native OpenTelemetry is
    recording, is left to FastAPI's handler, as is every request of a route of another
    shape, of a route included into another router (whose dependencies the route does not
    see), and of any route on a FastAPI older than native telemetry (the handler this one
    was checked against, `tests/test_direct_routes.py`, is 0.16x's).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        generic = super().get_route_handler()
        if not DIRECT_READS_SUPPORTED:
            return generic
        if _included_context is not None and _included_context.get() is not None:
            # FastAPI builds this handler for the route as included in another router, whose
            # dependencies and overrides `self.dependant` does not show.
            return generic
        plan = _DirectPlan.of(self.dependant)
        if plan is None:
            return generic
        provider = self.dependency_overrides_provider

        async def handler(request: Request) -> Response:
            if (
                provider is not None and getattr(provider, "dependency_overrides", None)
            ) or get_telemetry_data() is not None:
                return await generic(request)
            return await plan.run(request)

        return handler


# Set by FastAPI (0.16x) while it builds the handler of an included route; older versions
# copy the route with the includer's dependencies instead, which `_DirectPlan.of` sees.
_included_context: ContextVar[Any] | None = getattr(
    fastapi_routing, "_effective_route_context_var", None
)


@dataclass(frozen=True)
class _Param:
    name: str
    location: str  # "path" or "query", as in FastAPI's error locations
    field: Any  # FastAPI's ModelField
    default: Any


@dataclass(frozen=True)
class _DirectPlan:
    """What FastAPI's handler would do for one dependant of the supported shape."""

    call: Callable[..., Awaitable[Response]]
    dependencies: tuple[tuple[str, Callable[..., Awaitable[Any]], str | None], ...]
    path_params: tuple[_Param, ...]
    query_params: tuple[_Param, ...]
    request_name: str | None
    path: str

    @classmethod
    def of(cls, dependant: Dependant) -> _DirectPlan | None:
        call = dependant.call
        if call is None or not _is_coroutine(call) or not _returns_response(call):
            return None
        if not _only_request_and(dependant, params=True):
            return None
        dependencies: list[tuple[str, Callable[..., Awaitable[Any]], str | None]] = []
        for sub in dependant.dependencies:
            if (
                sub.name is None
                or sub.call is None
                or not _is_coroutine(sub.call)
                or getattr(sub, "concurrency", None) is not None
                or sub.dependencies
                or not _only_request_and(sub, params=False)
            ):
                return None
            dependencies.append((sub.name, sub.call, sub.request_param_name))
        if len({id(sub_call) for _, sub_call, _ in dependencies}) != len(dependencies):
            return None  # FastAPI calls a repeated dependency once per request
        path_params = tuple(_Param(f.name, "path", f, f.default) for f in dependant.path_params)
        query_params = tuple(_Param(f.name, "query", f, f.default) for f in dependant.query_params)
        if not all(_plain(param) for param in path_params + query_params):
            return None
        return cls(
            call,
            tuple(dependencies),
            path_params,
            query_params,
            dependant.request_param_name,
            dependant.path or "",
        )

    async def run(self, request: Request) -> Response:
        """`solve_dependencies`, `request_params_to_args` and `run_endpoint_function` for
        this shape: dependencies first, then the path and query parameters."""
        values: dict[str, Any] = {}
        for name, dependency, request_name in self.dependencies:
            values[name] = await (
                dependency(**{request_name: request}) if request_name else dependency()
            )
        errors: list[Any] = []
        _validate(self.path_params, request.path_params, values, errors)
        if self.query_params:
            _validate(self.query_params, request.query_params, values, errors)
        if errors:
            raise RequestValidationError(errors, endpoint_ctx=self._context(request))
        if self.request_name is not None:
            values[self.request_name] = request
        return await self.call(**values)

    def _context(self, request: Request) -> EndpointContext:
        """Where the endpoint is, for the error's message in logs (as FastAPI gives it)."""
        root = request.scope.get("root_path", "").rstrip("/")
        return EndpointContext(**self._source, path=f"{request.method} {root}{self.path}")

    @cached_property
    def _source(self) -> EndpointContext:
        source = EndpointContext(function=getattr(self.call, "__name__", ""))
        try:
            source["file"] = inspect.getsourcefile(self.call) or ""
            source["line"] = inspect.getsourcelines(self.call)[1]
        except (OSError, TypeError):
            pass
        return source


def _validate(
    params: tuple[_Param, ...],
    received: Mapping[str, str],
    values: dict[str, Any],
    errors: list[Any],
) -> None:
    """FastAPI's `request_params_to_args` for plain parameters: an absent one takes its
    default unvalidated, a present one goes through its field."""
    for param in params:
        raw = received.get(param.name)
        if raw is None:
            values[param.name] = param.default
            continue
        value, field_errors = param.field.validate(raw, loc=(param.location, param.name))
        if field_errors:
            errors.extend(field_errors)
        else:
            values[param.name] = value


def _is_coroutine(call: Any) -> bool:
    if inspect.isroutine(call):
        return inspect.iscoroutinefunction(call)
    return not inspect.isclass(call) and inspect.iscoroutinefunction(
        getattr(call, "__call__", None)  # noqa: B004
    )


def _returns_response(call: Any) -> bool:
    try:
        returns = inspect.signature(call, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError, SyntaxError):
        return False  # an annotation that does not resolve: not provably a Response
    return isinstance(returns, type) and issubclass(returns, Response)


def _only_request_and(dependant: Dependant, *, params: bool) -> bool:
    """Nothing to solve but the request (and path and query parameters where allowed)."""
    return not (
        dependant.body_params
        or dependant.header_params
        or dependant.cookie_params
        or (not params and (dependant.path_params or dependant.query_params))
        or dependant.http_connection_param_name
        or dependant.websocket_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    )


_IMMUTABLE = (str, bytes, int, float, bool, NoneType)


def _plain(param: _Param) -> bool:
    """A parameter FastAPI reads with `.get()` and validates on its own, defaulting to a
    value it would copy unchanged."""
    info = param.field.field_info
    required = info.is_required()
    return not (
        param.field.alias != param.name
        or info.validation_alias not in (None, param.name)
        or info.validate_default
        or (required and param.location == "query")
        or (not required and not isinstance(param.default, _IMMUTABLE))
        or any(type(item) is Json for item in info.metadata)
        or not _is_scalar(info.annotation)
    )


def _is_scalar(annotation: Any) -> bool:
    """A plain class that is neither a collection nor a model, or an Optional, Union or
    Annotated of such classes."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_scalar(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return all(_is_scalar(arg) for arg in get_args(annotation))
    if origin is not None or not isinstance(annotation, type):
        return False
    return issubclass(annotation, (str, bytes)) or not issubclass(
        annotation, (abc.Collection, BaseModel)
    )
