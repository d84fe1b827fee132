"""`DirectRoute`: the kit's busy reads skip FastAPI's generic handler on an app of their own,
answer exactly as that handler would, and leave every other case to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Query, Request, Response
from fastapi import routing as fastapi_routing
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import SecurityScopes
from opentelemetry import trace
from pydantic import BaseModel, Json

from contacts_kit import ContactsKit
from contacts_kit.routing import DirectRoute
from tests.conftest import Harness, auth_headers
from tests.contact.test_router import create, days_ahead_birthday

URL = "/api/contacts"
LONG = "x" * 321


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests FastAPI's generic handler solved."""
    seen: list[str] = []
    original = fastapi_routing.solve_dependencies

    async def counting(**kwargs: Any) -> Any:
        seen.append(kwargs["request"].url.path)
        return await original(**kwargs)

    monkeypatch.setattr(fastapi_routing, "solve_dependencies", counting)
    return seen


@asynccontextmanager
async def _client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _generic_twin(kit: ContactsKit) -> FastAPI:
    """The same kit's routes on another app, declared on its router: FastAPI's handler."""
    app = FastAPI()
    kit.add_routes(app.router)
    kit.install(app)
    return app


async def test_the_reads_answer_byte_for_byte_as_fastapi_would(
    harness: Harness, solved: list[str]
) -> None:
    headers = await auth_headers(harness.client, "direct@example.com")
    ada = await create(harness.client, headers)
    await create(harness.client, headers, email="grace@example.com", first_name="Grace")
    for days in (7, 8):  # the edge of the default window, and just past it
        birthday = days_ahead_birthday(days)
        await create(harness.client, headers, email=f"d{days}@x.org", birthday=birthday)
    other = await auth_headers(harness.client, "other@example.com")
    cases: list[tuple[str, dict[str, str]]] = [
        (URL, headers),
        (f"{URL}?q=ada&limit=5&offset=0", headers),
        (f"{URL}?first_name=GRA&last_name=love&email=example", headers),
        (f"{URL}?q=%20ada%20&unknown=1", headers),
        (f"{URL}?limit=2&limit=1", headers),  # repeated: the last one counts
        (f"{URL}?limit=0", headers),
        (f"{URL}?limit=101&offset=-1", headers),  # two errors, in FastAPI's order
        (f"{URL}?limit=abc", headers),
        (f"{URL}?limit=&offset=", headers),
        (f"{URL}?q={LONG}", headers),
        (f"{URL}?q=a%00b", headers),
        (f"{URL}?email=%E2%80%AE", headers),
        (f"{URL}?offset=1000000001&q={LONG}&limit=x", headers),
        (f"{URL}/{ada['id']}", headers),
        (f"{URL}/{ada['id']}", other),  # another user's contact: 404
        (f"{URL}/999999", headers),
        (f"{URL}/0", headers),
        (f"{URL}/-1", headers),
        (f"{URL}/abc", headers),
        (f"{URL}/1.5", headers),
        (f"{URL}/9223372036854775808", headers),
        (f"{URL}/%20", headers),
        (f"{URL}/birthdays", headers),
        (f"{URL}/birthdays?days=366&limit=1000&offset=0", headers),
        (f"{URL}/birthdays?days=367&limit=0", headers),
        (f"{URL}/birthdays?days=seven", headers),
        (f"{URL}?limit=0", {}),  # no token: 401 before the parameters
        (f"{URL}/abc", {"Authorization": "Bearer nope"}),
        (f"{URL}/birthdays", {"Authorization": "Basic xyz"}),
    ]
    twin = _generic_twin(harness.kit)
    statuses = set()
    async with _client(twin) as generic:
        for url, request_headers in cases:
            solved.clear()
            direct = await harness.client.get(url, headers=request_headers)
            statuses.add(direct.status_code)
            assert solved == [], url  # the direct handler answered
            expected = await generic.get(url, headers=request_headers)
            assert solved, url  # and the twin went through FastAPI's handler
            assert (direct.status_code, direct.headers.multi_items(), direct.content) == (
                expected.status_code,
                expected.headers.multi_items(),
                expected.content,
            ), url
    assert statuses == {200, 401, 404, 422}


async def test_overrides_app_dependencies_and_telemetry_go_to_fastapi(
    harness: Harness, solved: list[str]
) -> None:
    kit = harness.kit
    headers = await auth_headers(harness.client, "fallback@example.com")
    ada = await create(harness.client, headers)
    url = f"{URL}/{ada['id']}"
    token = headers["Authorization"].encode()
    user = await kit.current_user(Request({"type": "http", "headers": [(b"authorization", token)]}))

    # Overrides, as long as there are any.
    harness.app.dependency_overrides[kit.current_user] = lambda: user
    solved.clear()
    response = await harness.client.get(url)  # no token: the override answers
    assert (response.status_code, solved) == (200, [url])
    harness.app.dependency_overrides.clear()
    solved.clear()
    assert (await harness.client.get(url)).status_code == 401
    assert solved == []

    # Dependencies of the host app apply to every route, so no read is direct.
    audited: list[str] = []

    async def audit(request: Request) -> None:
        audited.append(request.url.path)

    host = FastAPI(dependencies=[Depends(audit)])
    kit.add_routes(host)
    kit.install(host)
    async with _client(host) as client:
        assert (await client.get(url, headers=headers)).status_code == 200
    assert audited == [url]
    assert solved == [url]

    # While FastAPI's native telemetry records, its handler fills the request's telemetry.
    traced = FastAPI(telemetry={"tracer_provider": _TracerProvider()})
    kit.add_routes(traced)
    kit.install(traced)
    solved.clear()
    async with _client(traced) as client:
        assert (await client.get(url, headers=headers)).status_code == 200
    assert solved == [url]


class _TracerProvider(trace.TracerProvider):
    """A configured provider (FastAPI records for it), whose spans go nowhere."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return trace.NoOpTracer()


async def _user(request: Request) -> str:
    return request.headers.get("x-user", "")


async def _user_with_query(request: Request, tenant: str = "") -> str:
    return tenant


def _sync_user(request: Request) -> str:
    return "sync"


async def _anonymous() -> str:
    return "anon"


class _Page(BaseModel):
    limit: int = 1


def _app_with(endpoint: Any) -> FastAPI:
    app = FastAPI()
    app.router.add_api_route("/shape/{item}", endpoint, route_class_override=DirectRoute)
    return app


async def _direct(
    request: Request, item: int, user: Annotated[str, Depends(_user)], q: str | None = None
) -> Response:
    return Response(f"{item} {user} {q}")


async def _direct_without_request(
    item: int, user: Annotated[str, Depends(_anonymous)], limit: int = 1
) -> Response:
    return Response(f"{item} {user} {limit}")


async def _limited_dependency(
    item: int, user: Annotated[str, Depends(_user, max_concurrency=2)]
) -> Response:
    return Response(f"{item} {user}")


async def _with_header(item: int, x: Annotated[str | None, Header()] = None) -> Response:
    return Response(f"{item} {x}")


async def _returns_dict(item: int) -> dict[str, int]:
    return {"item": item}


async def _dependency_with_query(
    item: int, user: Annotated[str, Depends(_user_with_query)]
) -> Response:
    return Response(f"{item} {user}")


async def _sync_dependency(item: int, user: Annotated[str, Depends(_sync_user)]) -> Response:
    return Response(f"{item} {user}")


async def _list_query(item: int, tag: Annotated[list[str] | None, Query()] = None) -> Response:
    return Response(f"{item} {tag}")


async def _aliased(item: int, page_size: Annotated[int, Query(alias="page-size")] = 1) -> Response:
    return Response(f"{item} {page_size}")


async def _required_query(item: int, q: str) -> Response:
    return Response(f"{item} {q}")


def _sync_endpoint(item: int) -> Response:
    return Response(f"{item}")


async def _user_of_user(user: Annotated[str, Depends(_user)]) -> str:
    return user.upper()


async def _nested_dependency(item: int, user: Annotated[str, Depends(_user_of_user)]) -> Response:
    return Response(f"{item} {user}")


async def _repeated_dependency(
    item: int,
    user: Annotated[str, Depends(_user)],
    again: Annotated[str, Depends(_user)],
) -> Response:
    return Response(f"{item} {user} {again}")


async def _validated_default(
    item: int, limit: Annotated[int, Query(validate_default=True)] = 1
) -> Response:
    return Response(f"{item} {limit}")


async def _json_query(item: int, n: Annotated[Json[int], Query()] = 0) -> Response:
    return Response(f"{item} {n}")


async def _query_model(item: int, page: Annotated[_Page, Query()]) -> Response:
    return Response(f"{item} {page.limit}")


async def _date_default(item: int, day: date = date(2026, 1, 1)) -> Response:
    return Response(f"{item} {day}")


async def _with_response(item: int, response: Response) -> Response:
    return Response(f"{item}")


async def _with_background(item: int, background: BackgroundTasks) -> Response:
    return Response(f"{item}")


async def _with_scopes(item: int, scopes: SecurityScopes) -> Response:
    return Response(f"{item} {scopes.scopes}")


async def test_an_included_direct_route_keeps_the_includers_dependencies(
    solved: list[str],
) -> None:
    audited: list[str] = []

    async def audit(request: Request) -> None:
        audited.append(request.url.path)

    router = APIRouter()
    router.add_api_route("/shape/{item}", _direct, route_class_override=DirectRoute)
    app = FastAPI()
    app.include_router(router, prefix="/in", dependencies=[Depends(audit)])
    async with _client(app) as client:
        response = await client.get("/in/shape/7", headers={"x-user": "u"})
    assert (response.status_code, response.text) == (200, "7 u None")
    assert audited == ["/in/shape/7"]
    assert solved == ["/in/shape/7"]


async def test_a_validation_error_names_the_endpoint_as_fastapi_does(
    solved: list[str],
) -> None:
    messages: dict[type[APIRoute], str] = {}
    for route_class in (APIRoute, DirectRoute):
        app = FastAPI()
        app.router.add_api_route("/shape/{item}", _direct, route_class_override=route_class)

        async def record(request: Request, exc: Exception, kind: Any = route_class) -> Response:
            messages[kind] = str(exc)
            return Response(status_code=422)

        app.add_exception_handler(RequestValidationError, record)
        transport = httpx.ASGITransport(app=app, root_path="/mounted")
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/mounted/shape/seven", headers={"x-user": "u"})
        assert response.status_code == 422
    assert solved == ["/mounted/shape/seven"]  # once: FastAPI's handler, then the direct one
    assert messages[DirectRoute] == messages[APIRoute]
    assert "_direct" in messages[DirectRoute]
    assert "GET /mounted/shape/{item}" in messages[DirectRoute]


@pytest.mark.parametrize(
    ("endpoint", "direct"),
    [
        (_direct, True),
        (_direct_without_request, True),
        (_limited_dependency, False),
        (_with_header, False),
        (_returns_dict, False),
        (_dependency_with_query, False),
        (_sync_dependency, False),
        (_list_query, False),
        (_aliased, False),
        (_required_query, False),
        (_sync_endpoint, False),
        (_nested_dependency, False),
        (_repeated_dependency, False),
        (_validated_default, False),
        (_json_query, False),
        (_query_model, False),
        (_date_default, False),
        (_with_response, False),
        (_with_background, False),
        (_with_scopes, False),
    ],
)
async def test_only_the_reproduced_shape_is_direct(
    endpoint: Any, direct: bool, solved: list[str]
) -> None:
    app = _app_with(endpoint)
    async with _client(app) as client:
        # A value for each shape's parameter, and a path parameter that is not a number.
        query = "q=a&tag=b&tag=c&page-size=3&tenant=t&n=3&limit=2&day=2026-02-03"
        ok = await client.get(f"/shape/7?{query}", headers={"x": "h", "x-user": "u"})
        bad = await client.get("/shape/seven")
    assert ok.status_code == 200, ok.text
    assert "7" in ok.text
    assert bad.status_code == 422
    assert (solved == []) is direct
