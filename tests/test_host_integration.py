"""Nothing of the host's taken over: its OpenAPI names and security scheme, its error
handlers, its own session dependency, several kits (or one kit at several prefixes) in one
app, and a cache that each process has to itself."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from contacts_kit import ContactsKit, hookimpl
from contacts_kit.cli import main
from contacts_kit.contact.models import Contact
from contacts_kit.http import operation_id
from contacts_kit.migrate import upgrade
from contacts_kit.settings import normalize_database_url
from tests.conftest import PASSWORD, empty_tables, make_settings
from tests.test_embedding import _Outbox
from tests.users.images import png_bytes


class UserRead(BaseModel):
    """The host's own model, named as one of the kit's."""

    name: str


class ErrorBody(BaseModel):
    """The host's own error body."""

    message: str


class ContactRead(BaseModel):
    """The host's own contact model (a CRM's, say)."""

    company: str


@asynccontextmanager
async def serving(app: FastAPI, *kits: ContactsKit) -> AsyncIterator[httpx.AsyncClient]:
    """`app` with the lifespans of its `kits` running, and a client talking to it."""
    async with AsyncExitStack() as stack:
        for kit in kits:
            await stack.enter_async_context(kit.lifespan())
        transport = httpx.ASGITransport(app=app)
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://testserver")
        )


HOST_SCHEME = OAuth2PasswordBearer(tokenUrl="/host/token")
HostToken = Annotated[str, Depends(HOST_SCHEME)]


def test_the_host_keeps_its_schema_names_and_its_security_scheme(tmp_path: Path) -> None:
    kit = ContactsKit(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'o.db'}", tmp_path))
    app = FastAPI()

    @app.get("/host/me", response_model=UserRead, responses={400: {"model": ErrorBody}})
    async def me(token: HostToken) -> UserRead:
        return UserRead(name=token)

    @app.get("/host/crm", response_model=ContactRead)
    async def crm() -> ContactRead:
        return ContactRead(company="ACME")

    app.include_router(kit.router)
    spec = app.openapi()
    schemas = spec["components"]["schemas"]
    assert schemas["UserRead"]["properties"].keys() == {"name"}
    assert schemas["ErrorBody"]["properties"].keys() == {"message"}
    assert schemas["ContactRead"]["properties"].keys() == {"company"}
    assert not [name for name in schemas if "__" in name]
    # The kit's own models are there under names of their own.
    assert "email" in schemas["ContactsKitUserRead"]["properties"]
    assert "first_name" in schemas["ContactsKitContactRead"]["properties"]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/host/token"
    assert schemes["ContactsKitOAuth2"]["flows"]["password"]["tokenUrl"] == "/api/auth/token"
    assert spec["paths"]["/host/me"]["get"]["security"] == [{"OAuth2PasswordBearer": []}]


async def _tenant(
    client: httpx.AsyncClient, mount: str, outbox: _Outbox
) -> tuple[dict[str, str], dict[str, Any]]:
    """Sign up on the kit at `mount`; the verification link and the token pair."""
    account = {"email": "same@example.com", "password": PASSWORD}
    assert (await client.post(f"{mount}/api/auth/signup", json=account)).status_code == 201
    link = re.search(r"http://testserver(\S+)\?token=", outbox.sent[-1].text)
    assert link
    tokens = (await client.post(f"{mount}/api/auth/login", json=account)).json()
    return {"Authorization": f"Bearer {tokens['access_token']}"}, {"verify": link.group(1)}


async def test_two_kits_in_one_app_link_to_their_own_mount_and_keep_tokens_apart(
    redis_url: str, tmp_path: Path
) -> None:
    outboxes = [_Outbox(), _Outbox()]
    kits = []
    for number, outbox in enumerate(outboxes, start=1):
        url = f"sqlite+aiosqlite:///{tmp_path / f't{number}.db'}"
        await asyncio.to_thread(upgrade, url)
        settings = make_settings(
            url, tmp_path / f"t{number}", redis_url=redis_url, key_prefix=f"tenant{number}"
        )
        kits.append(
            ContactsKit(
                settings,
                plugins=[outbox],
                operation_ids=lambda route, n=number: f"t{n}_{operation_id(route)}",
            )
        )
    app = FastAPI()
    for number, kit in enumerate(kits, start=1):
        app.include_router(kit.router, prefix=f"/t{number}")
    assert len(
        {op["operationId"] for item in app.openapi()["paths"].values() for op in item.values()}
    ) == sum(len(item) for item in app.openapi()["paths"].values())
    async with serving(app, *kits) as client:
        first, _ = await _tenant(client, "/t1", outboxes[0])
        second, links = await _tenant(client, "/t2", outboxes[1])
        assert links["verify"] == "/t2/api/auth/verify"
        created = await client.post(
            "/t2/api/contacts", json={"first_name": "T", "phone": "+12025550100"}, headers=second
        )
        assert created.status_code == 201, created.text
        assert (
            created.headers["location"]
            == f"http://testserver/t2/api/contacts/{created.json()['id']}"
        )
        feed = await client.post("/t2/api/users/me/calendar-token", headers=second)
        assert feed.json()["url"].startswith("http://testserver/t2/api/calendar/")
        avatar = await client.patch(
            "/t2/api/users/me/avatar",
            files={"file": ("a.png", png_bytes(), "image/png")},
            headers=second,
        )
        assert avatar.json()["avatar_url"].startswith("http://testserver/t2/api/media/")
        served = await client.get(avatar.json()["avatar_url"].removeprefix("http://testserver"))
        assert served.status_code == 200
        # The second tenant's user is cached under its own prefix: the first never sees it.
        assert (await client.get("/t2/api/users/me", headers=second)).status_code == 200
        assert (await client.get("/t1/api/users/me", headers=second)).status_code == 401
        assert (await client.get("/t1/api/contacts", headers=first)).json() == []
        for kit in kits:
            await empty_tables(kit)


async def test_one_kit_at_two_prefixes_answers_each_with_its_own_location(
    database_url: str, tmp_path: Path
) -> None:
    kit = ContactsKit(make_settings(database_url, tmp_path))
    app = FastAPI()
    app.include_router(kit.router, prefix="/v1")
    app.include_router(kit.router, prefix="/v2", include_in_schema=False)
    async with serving(app, kit) as client:
        try:
            account = {"email": "both@example.com", "password": PASSWORD}
            assert (await client.post("/v2/api/auth/signup", json=account)).status_code == 201
            tokens = (await client.post("/v1/api/auth/login", json=account)).json()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            for version in ("v1", "v2"):
                created = await client.post(
                    f"/{version}/api/contacts",
                    json={"first_name": version, "phone": "+12025550100"},
                    headers=headers,
                )
                location = created.headers["location"]
                assert (
                    location == f"http://testserver/{version}/api/contacts/{created.json()['id']}"
                )
                assert (await client.get(location, headers=headers)).status_code == 200
        finally:
            await empty_tables(kit)


async def test_an_error_of_the_host_dependency_reaches_the_host_handler(
    database_url: str, tmp_path: Path
) -> None:
    async def owner_of_a_slow_service() -> int:
        raise TimeoutError("the host's session store did not answer")

    kit = ContactsKit(make_settings(database_url, tmp_path), owner=owner_of_a_slow_service)
    app = FastAPI()

    @app.exception_handler(TimeoutError)
    async def host_timeout(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"host": str(exc)}, 504)

    app.include_router(kit.get_contacts_router(), prefix="/contacts")
    async with serving(app, kit) as client:
        answer = await client.get("/contacts")
    assert answer.status_code == 504
    assert answer.json() == {"host": "the host's session store did not answer"}


async def test_a_host_session_rolls_back_every_answered_kit_error(
    database_url: str, tmp_path: Path
) -> None:
    async def owner() -> int:
        return 7

    kit = ContactsKit(make_settings(database_url, tmp_path), owner=owner)
    host_engine = create_async_engine(normalize_database_url(database_url))
    host_sessions = async_sessionmaker(host_engine, expire_on_commit=False)

    async def host_session() -> AsyncIterator[AsyncSession]:
        # A host's usual session dependency: commit after the endpoint, no rollback code.
        async with host_sessions() as session:
            yield session
            await session.commit()

    app = FastAPI()
    app.include_router(kit.get_contacts_router(), prefix="/contacts")
    app.dependency_overrides[kit.session] = host_session
    async with serving(app, kit) as client:
        try:
            first = {"first_name": "A", "email": "a@example.com"}
            assert (await client.post("/contacts", json=first)).status_code == 201
            operations = [
                {"op": "create", "data": {"first_name": "B", "email": "b@example.com"}},
                {"op": "create", "data": first},  # its email is taken: a 409
            ]
            batch = await client.post(
                "/contacts/batch", params={"atomic": "true"}, json={"operations": operations}
            )
            assert batch.status_code == 409
            assert batch.json()["index"] == 1
            taken = await client.post("/contacts", json=first)
            assert taken.status_code == 409
            async with kit.engine.connect() as connection:
                names = (await connection.execute(select(Contact.first_name))).scalars().all()
            assert names == ["A"]
        finally:
            await empty_tables(kit)
            await host_engine.dispose()


class _LocalCache:
    """A cache plugin of each process's own, which does not say so."""

    def __init__(self) -> None:
        self.entries: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.entries.get(key)

    async def set(self, key: str, value: str, ttl: int) -> None:
        self.entries[key] = value

    async def delete(self, key: str) -> None:
        self.entries.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self.entries.clear()

    @hookimpl
    def provide_cache(self) -> Any:
        return self


def test_a_cache_that_does_not_say_it_is_shared_keeps_no_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", tmp_path)
    with caplog.at_level(logging.WARNING, logger="contacts_kit"):
        kit = ContactsKit(settings, plugins=[_LocalCache()])
    assert not kit.cache_shared
    assert kit.kept is None
    assert "_LocalCache does not say whether other processes share it" in caplog.text


def test_serve_refuses_two_workers_on_a_cache_of_each_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(f"CONTACTS_KIT_{name}", raising=False)
    monkeypatch.setenv("CONTACTS_KIT_LOAD_ENTRY_POINTS", "false")
    assert main(["serve", "--workers", "2"]) == 2
    error = capsys.readouterr().err
    assert "--workers 2 needs a cache every worker shares" in error
    assert "CONTACTS_KIT_REDIS_URL" in error
