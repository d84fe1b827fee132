"""The embedding contract: contacts-kit inside a host's app, mounted under a prefix of the
host's, next to the host's own handlers, middleware, route class and dependency overrides."""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import starlette.convertors
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from contacts_kit import ContactsKit, hookimpl
from contacts_kit.backends.protocols import MailMessage
from contacts_kit.users.schemas import AuthenticatedUser
from tests.conftest import PASSWORD, empty_tables, make_settings
from tests.users.images import png_bytes

OUTER = "/v2"  # the host's own prefix, around the kit's `api_prefix`
API = f"{OUTER}/api"
CONTACT = {
    "first_name": "Embedded",
    "last_name": "Contact",
    "email": "embedded@example.com",
    "phone": "+12025550143",
    "birthday": "1990-05-05",
}


class _Outbox:
    def __init__(self) -> None:
        self.sent: list[MailMessage] = []

    async def send(self, message: MailMessage) -> None:
        self.sent.append(message)

    @hookimpl
    def provide_mailer(self) -> Any:
        return self

    def link(self, marker: str) -> str:
        text = self.sent[-1].text
        found = re.search(rf"http://testserver(\S*{re.escape(marker)}\?token=\S+)", text)
        assert found, text
        return found.group(1)


class _HostRoute(APIRoute):
    """A host's route class, written the way FastAPI documents: it wraps the handler."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def timed(request: Request) -> Response:
            response = await handler(request)
            response.headers["X-Host-Route"] = "yes"
            return response

        return timed


class _Item(BaseModel):
    name: str


def _host_app(kit: ContactsKit) -> FastAPI:
    """A host with its own error handlers, middleware and routes, the kit under `OUTER`."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kit.lifespan(app):
            yield

    app = FastAPI(lifespan=lifespan)

    @app.exception_handler(StarletteHTTPException)
    async def host_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return PlainTextResponse(f"host says {exc.detail}", exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def host_validation_error(request: Request, exc: Exception) -> Response:
        return JSONResponse({"host_errors": True}, 400)

    @app.middleware("http")
    async def host_header(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["X-Host-Middleware"] = "yes"
        return response

    @app.post("/host/items")
    async def host_item(item: _Item) -> dict[str, str]:
        return {"name": item.name}

    handlers, middleware = dict(app.exception_handlers), list(app.user_middleware)
    app.include_router(kit.router, prefix=OUTER)
    app.include_router(kit.health_router, prefix=OUTER)
    # Including the kit changed nothing app-wide.
    assert app.exception_handlers == handlers
    assert app.user_middleware == middleware
    return app


@asynccontextmanager
async def _running(kit: ContactsKit) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = _host_app(kit)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            try:
                yield app, client
            finally:
                await empty_tables(kit)


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    tokens = (
        await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    ).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@asynccontextmanager
async def embedded_user(
    database_url: str, tmp_path: Path, email: str
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The host app with the kit under `OUTER`, and the headers of a user signed up and
    logged in through it."""
    kit = ContactsKit(make_settings(database_url, tmp_path, require_verified_email=False))
    async with _running(kit) as (_, client):
        account = {"email": email, "password": PASSWORD}
        assert (await client.post(f"{API}/auth/signup", json=account)).status_code == 201
        yield client, await _login(client, email)


async def test_links_hints_and_body_limits_follow_where_the_kit_is_mounted(
    database_url: str, tmp_path: Path
) -> None:
    outbox = _Outbox()
    settings = make_settings(
        database_url, tmp_path, require_verified_email=True, max_body_bytes=64 * 1024
    )
    kit = ContactsKit(settings, plugins=[outbox])
    async with _running(kit) as (_, client):
        account = {"email": "mounted@example.com", "password": PASSWORD}
        assert (await client.post(f"{API}/auth/signup", json=account)).status_code == 201
        verify = outbox.link("/auth/verify")
        assert verify.startswith(f"{API}/auth/verify?token=")

        refused = await client.post(f"{API}/auth/login", json=account)
        assert refused.status_code == 403
        assert refused.json()["code"] == "EMAIL_NOT_VERIFIED"
        assert f"POST {API}/auth/verify/resend" in refused.json()["detail"]

        assert (await client.get(verify)).status_code == 200
        headers = await _login(client, account["email"])
        created = await client.post(f"{API}/contacts", json=CONTACT, headers=headers)
        assert created.status_code == 201
        assert created.headers["location"] == f"http://testserver{API}/contacts/" + str(
            created.json()["id"]
        )

        # 100 KB is over the kit's 64 KB limit wherever it is mounted: refused unread.
        big = CONTACT | {"email": "big@example.com", "notes": "n" * 100_000}
        too_big = await client.post(f"{API}/contacts", json=big, headers=headers)
        assert too_big.status_code == 413
        assert too_big.json()["code"] == "BODY_TOO_LARGE"

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"first_name": "'
            for _ in range(100):
                yield b"x" * 1024
            yield b'"}'

        streamed = await client.post(
            f"{API}/contacts",
            content=chunks(),
            headers=headers | {"content-type": "application/json"},
        )
        assert streamed.status_code == 413
        assert streamed.json()["code"] == "BODY_TOO_LARGE"
        listed = await client.get(f"{API}/contacts", headers=headers)
        assert [contact["email"] for contact in listed.json()] == ["embedded@example.com"]

        # The avatar route has its own, larger limit: a 100 KB image is fine.
        image = png_bytes(size=(300, 300), noise=True)
        assert len(image) > 64 * 1024
        avatar = await client.patch(
            f"{API}/users/me/avatar", files={"file": ("a.png", image, "image/png")}, headers=headers
        )
        assert avatar.status_code == 200, avatar.text
        served = avatar.json()["avatar_url"]
        assert served.startswith(f"http://testserver{API}/media/avatars/")
        assert (await client.get(served.removeprefix("http://testserver"))).content == image

        assert (await client.post(f"{API}/auth/password-reset", json=account)).status_code == 202
        reset = outbox.link("/auth/password-reset/confirm")
        assert reset.startswith(f"{API}/auth/password-reset/confirm?token=")
        form = await client.get(reset)
        assert form.status_code == 200
        assert f'fetch("{API}/auth/password-reset/confirm"' in form.text


async def test_the_host_keeps_its_handlers_middleware_and_convertors(
    database_url: str, tmp_path: Path
) -> None:
    kit = ContactsKit(make_settings(database_url, tmp_path))
    async with _running(kit) as (_, client):
        # The host's handlers answer the host's routes and every path nobody serves.
        assert (await client.post("/host/items", json={})).json() == {"host_errors": True}
        missing = await client.get(f"{API}/nowhere")
        assert (missing.status_code, missing.text) == (404, "host says Not Found")
        # The kit answers its own routes' errors in its own shape.
        unauthenticated = await client.get(f"{API}/contacts")
        assert unauthenticated.status_code == 401
        assert unauthenticated.json()["code"] == "NOT_AUTHENTICATED"
        assert unauthenticated.headers["www-authenticate"] == "Bearer"
        invalid = await client.post(f"{API}/auth/signup", json={"email": "nope"})
        assert invalid.status_code == 422
        assert {error["loc"][-1] for error in invalid.json()["detail"]} == {"email", "password"}
        # The host's middleware sees every response, the kit's included.
        assert unauthenticated.headers["x-host-middleware"] == "yes"
        # No CORS was added: a preflight from another origin gets no permission.
        preflight = await client.options(
            f"{API}/contacts",
            headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in preflight.headers
    # No URL convertor was registered in Starlette's global table.
    assert set(starlette.convertors.CONVERTOR_TYPES) == {"str", "path", "int", "float", "uuid"}


async def test_a_host_route_class_is_kept_on_every_kit_route(
    database_url: str, tmp_path: Path
) -> None:
    kit = ContactsKit(make_settings(database_url, tmp_path), route_class=_HostRoute)
    async with _running(kit) as (app, client):
        operations = [
            (method.upper(), path)
            for path, item in app.openapi()["paths"].items()
            if path.startswith(OUTER)
            for method in item
        ]
        assert len(operations) >= 18
        for method, path in operations:
            url = re.sub(r"\{[^}]+\}", "1", path)
            response = await client.request(method, url)
            # Every kit route ran the host's wrapper, around the kit's own error answers.
            assert response.headers.get("x-host-route") == "yes", (method, path, response.text)
            assert response.status_code < 500, (method, path, response.text)


async def test_per_user_rate_limits_hold_under_an_override_of_the_current_user(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_contacts="2/minute",
        rate_limit_contact_create="2/minute",
    )
    kit = ContactsKit(settings)
    async with _running(kit) as (app, client):
        users = []
        for name in ("ann", "ben"):
            account = {"email": f"{name}@example.com", "password": PASSWORD}
            body = (await client.post(f"{API}/auth/signup", json=account)).json()
            users.append(AuthenticatedUser.model_validate(body | {"token_version": 0}))
        ann, ben = users

        app.dependency_overrides[kit.current_user] = lambda: ann
        reads = [(await client.get(f"{API}/contacts")).status_code for _ in range(5)]
        assert reads == [200, 200, 429, 429, 429]
        writes = [
            (
                await client.post(
                    f"{API}/contacts", json=CONTACT | {"email": f"w{index}@example.com"}
                )
            ).status_code
            for index in range(3)
        ]
        assert writes == [201, 201, 429]

        # Keyed by the user the override gives: another user has a budget of their own.
        app.dependency_overrides[kit.current_user] = lambda: ben
        assert (await client.get(f"{API}/contacts")).status_code == 200
        assert (await client.get(f"{API}/contacts/birthdays")).status_code == 200
        assert (await client.get(f"{API}/contacts/1")).status_code == 429


PRIVATE_ROOTS = ("fastapi", "starlette")


def _root(node: ast.expr) -> str | None:
    """`a` for the expression `a.b.c`."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _private_uses(source: str) -> list[str]:
    """Every private name of FastAPI or Starlette that `source` imports or reaches."""
    tree = ast.parse(source)
    aliases: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                if name.name.split(".")[0] in PRIVATE_ROOTS:
                    if any(part.startswith("_") for part in name.name.split(".")):
                        found.append(name.name)
                    aliases.add(name.asname or name.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] not in PRIVATE_ROOTS:
                continue
            if any(part.startswith("_") for part in node.module.split(".")):
                found.append(node.module)
            for name in node.names:
                if name.name.startswith("_"):
                    found.append(f"{node.module}.{name.name}")
                aliases.add(name.asname or name.name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and _root(node.value) in aliases
        ):
            found.append(f"{ast.unparse(node.value)}.{node.attr}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and len(node.args) >= 2
            and _root(node.args[0]) in aliases
            and isinstance(node.args[1], ast.Constant)
            and str(node.args[1].value).startswith("_")
        ):
            found.append(f"{node.func.id}({ast.unparse(node.args[0])}, {node.args[1].value!r})")
    return found


def test_the_package_uses_no_private_name_of_fastapi_or_starlette() -> None:
    package = Path(__file__).parents[1] / "contacts_kit"
    found = {
        str(path.relative_to(package)): uses
        for path in sorted(package.rglob("*.py"))
        if (uses := _private_uses(path.read_text()))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        "from fastapi.routing import _effective_route_context_var",
        "from fastapi._compat import ModelField",
        "import starlette._utils",
        "from fastapi import routing as r\nr._effective_route_context_var.get()",
        "import fastapi.routing\nfastapi.routing._x",
        "from fastapi import routing\ngetattr(routing, '_effective_route_context_var', None)",
    ],
)
def test_the_private_name_check_catches_each_way_in(source: str) -> None:
    assert _private_uses(source)
