"""The read answers each worker keeps (`contacts_kit.contact.pages`): a repeated read costs no
SQL, and the next read after any write to the book, on this instance or another sharing the
cache, answers exactly what an instance keeping nothing answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from contacts_kit import hookimpl
from contacts_kit.contact.pages import ENTRY_OVERHEAD, OwnerPages, Page, PageCache
from contacts_kit.users.schemas import AuthenticatedUser
from tests.conftest import Harness, RunningApp, auth_headers, login, make_settings, statements
from tests.test_embedding import API, embedded_user

URL = "/api/contacts"
READS = [
    URL,
    f"{URL}?q=ada",
    f"{URL}?last_name=love&email=example&limit=5",
    f"{URL}?tag=friends&favorite=true",
    f"{URL}/birthdays?days=30",
    "{contact}",
]
READ_IDS = ["list", "search", "filters", "tag", "birthdays", "by-id"]
ADA = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "phone": "+12025550143",
    "favorite": True,
    "tags": ["Friends"],
}


def _soon(days: int) -> str:
    """A birthday `days` days from today, thirty years ago (no 29 February)."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return day.replace(year=day.year - 30).isoformat() if (day.month, day.day) != (2, 29) else ""


@pytest.fixture
async def kept_app(
    database_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Harness, dict[str, str]]]:
    """An app keeping read answers (Redis is the shared cache) and a user signed in to it."""
    settings = make_settings(database_url, tmp_path, redis_url=redis_url)
    async with RunningApp(settings) as running:
        yield running, await auth_headers(running.client, "kept@example.com")


async def _ada(client: httpx.AsyncClient, headers: dict[str, str], prefix: str = "") -> Any:
    created = await client.post(
        f"{prefix}{URL}", json=ADA | {"birthday": _soon(3) or _soon(4)}, headers=headers
    )
    assert created.status_code == 201, created.text
    return created.json()


@pytest.mark.parametrize("read", READS, ids=READ_IDS)
async def test_a_repeated_read_is_served_without_sql(
    kept_app: tuple[Harness, dict[str, str]], read: str
) -> None:
    running, headers = kept_app
    contact = await _ada(running.client, headers)
    url = read.format(contact=f"{URL}/{contact['id']}")
    # The write ended the user's generation: the first read writes a new one (keeping
    # nothing), the second keeps its answer, the third is served from it.
    first = await running.client.get(url, headers=headers)
    second = await running.client.get(url, headers=headers)
    async with statements(running.kit) as seen:
        third = await running.client.get(url, headers=headers)
        current = await running.client.get(
            url, headers=headers | {"If-None-Match": third.headers["etag"]}
        )
    assert seen == []
    assert first.status_code == second.status_code == third.status_code == 200
    assert first.content == second.content == third.content
    assert first.json(), "the read found the contact"
    assert first.headers["etag"] == third.headers["etag"]
    assert current.status_code == 304
    assert current.content == b""


async def test_a_write_costs_the_next_read_no_reload_of_the_user(
    kept_app: tuple[Harness, dict[str, str]],
) -> None:
    running, headers = kept_app
    contact = await _ada(running.client, headers)
    url = f"{URL}/{contact['id']}"
    for _ in range(3):
        await running.client.get(url, headers=headers)
    changed = await running.client.patch(url, json={"notes": "x"}, headers=headers)
    assert changed.status_code == 200
    async with statements(running.kit) as seen:
        read = await running.client.get(url, headers=headers)
    assert read.json()["notes"] == "x"
    assert len(seen) == 1, seen  # the read; the user still comes from the cache


class _PlainCache:
    """A cache plugin's cache with only what `Cache` asks for, which says it is shared (as a
    memcached or a database-backed cache would be)."""

    shared = True

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.gets = 0

    async def get(self, key: str) -> str | None:
        self.gets += 1
        return self.values.get(key)

    async def set(self, key: str, value: str, ttl: int) -> None:
        self.values[key] = value

    async def delete(self, key: str) -> None:
        self.values.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self.values.clear()

    @hookimpl
    def provide_cache(self) -> Any:
        return self


async def test_a_plugin_cache_that_says_it_is_shared_keeps_answers_too(
    database_url: str, tmp_path: Path
) -> None:
    plugin = _PlainCache()
    async with RunningApp(make_settings(database_url, tmp_path), plugins=(plugin,)) as running:
        assert running.kit.kept is not None
        assert running.kit.kept.pages is not None
        headers = await auth_headers(running.client, "plugin@example.com")
        await _ada(running.client, headers)
        for _ in range(2):
            await running.client.get(URL, headers=headers)
        gets = plugin.gets
        async with statements(running.kit) as seen:
            listed = await running.client.get(URL, headers=headers)
        assert [c["email"] for c in listed.json()] == ["ada@example.com"]
        assert seen == []
        assert plugin.gets - gets == 2  # the user, then the generation


async def _statements_of_a_third_read(running: Harness, url: str, headers: dict[str, str]) -> int:
    """The SQL statements of the third read of `url` in a row (the first two would have
    kept its answer)."""
    for _ in range(2):
        assert (await running.client.get(url, headers=headers)).status_code == 200
    async with statements(running.kit) as seen:
        assert (await running.client.get(url, headers=headers)).status_code == 200
    return len(seen)


@pytest.mark.parametrize("read", ["/api/contacts", "{contact}"], ids=["list", "by-id"])
async def test_nothing_is_kept_when_turned_off(
    database_url: str, redis_url: str, tmp_path: Path, read: str
) -> None:
    settings = make_settings(database_url, tmp_path, redis_url=redis_url, read_cache_bytes=0)
    async with RunningApp(settings) as running:
        headers = await auth_headers(running.client, "off@example.com")
        url = read.format(contact=f"{URL}/{(await _ada(running.client, headers))['id']}")
        assert await _statements_of_a_third_read(running, url, headers) == 1


async def test_nothing_is_kept_with_a_cache_of_this_process_only(
    database_url: str, tmp_path: Path
) -> None:
    # The in-memory cache is each process's own: a write in another worker would not reach
    # this one's entry, so no answer is kept.
    settings = make_settings(database_url, tmp_path)
    async with RunningApp(settings) as running:
        assert running.kit.kept is None
        headers = await auth_headers(running.client, "local@example.com")
        await _ada(running.client, headers)
        assert await _statements_of_a_third_read(running, URL, headers) == 1


async def test_answers_are_kept_for_an_overridden_current_user_too(
    kept_app: tuple[Harness, dict[str, str]],
) -> None:
    # The generations belong to the contacts module: whoever the owner is, whatever says so.
    running, headers = kept_app
    await _ada(running.client, headers)
    me = (await running.client.get("/api/users/me", headers=headers)).json()
    fake = AuthenticatedUser(**me, token_version=0)
    running.app.dependency_overrides[running.kit.current_user] = lambda: fake
    assert await _statements_of_a_third_read(running, URL, {}) == 0
    listed = await running.client.get(URL)
    assert [c["email"] for c in listed.json()] == ["ada@example.com"]


Write = Callable[[httpx.AsyncClient, dict[str, str], dict[str, Any]], Awaitable[httpx.Response]]


async def _create(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    return await client.post(URL, json={"first_name": "Grace", "phone": "+12025550100"}, headers=h)


async def _put(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    body = ADA | {"first_name": "Augusta", "birthday": c["birthday"]}
    return await client.put(f"{URL}/{c['id']}", json=body, headers=h)


async def _patch(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    return await client.patch(f"{URL}/{c['id']}", json={"notes": "engine"}, headers=h)


async def _unfavorite(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    return await client.patch(f"{URL}/{c['id']}", json={"favorite": False}, headers=h)


async def _trash(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    return await client.delete(f"{URL}/{c['id']}", headers=h)


async def _restore(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    await client.delete(f"{URL}/{c['id']}", headers=h)
    return await client.post(f"{URL}/{c['id']}/restore", headers=h)


async def _batch(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    operations = [
        {"op": "update", "id": c["id"], "data": {"last_name": "Byron"}},
        {"op": "create", "data": {"first_name": "Alan", "email": "alan@example.com"}},
    ]
    return await client.post(f"{URL}/batch", json={"operations": operations}, headers=h)


async def _import(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Hopper;Grace;;;\r\nFN:Grace Hopper\r\n"
    card += "EMAIL:grace@example.com\r\nCATEGORIES:Friends\r\nEND:VCARD\r\n"
    headers = h | {"content-type": "text/vcard"}
    return await client.post(f"{URL}/import", content=card.encode(), headers=headers)


async def _tag_id(client: httpx.AsyncClient, h: dict[str, str]) -> int:
    tags = (await client.get("/api/tags", headers=h)).json()
    return int(next(tag["id"] for tag in tags if tag["name"] == "Friends"))


async def _rename_tag(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    tag_id = await _tag_id(client, h)
    return await client.patch(f"/api/tags/{tag_id}", json={"name": "Pals"}, headers=h)


async def _delete_tag(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> Any:
    return await client.delete(f"/api/tags/{await _tag_id(client, h)}", headers=h)


WRITES: dict[str, Write] = {
    "create": _create,
    "put": _put,
    "patch": _patch,
    "unfavorite": _unfavorite,
    "trash": _trash,
    "restore": _restore,
    "batch": _batch,
    "import": _import,
    "rename-tag": _rename_tag,
    "delete-tag": _delete_tag,
}


async def _answers(client: httpx.AsyncClient, h: dict[str, str], c: dict[str, Any]) -> list[Any]:
    out = []
    for read in READS:
        response = await client.get(read.format(contact=f"{URL}/{c['id']}"), headers=h)
        out.append((response.status_code, response.content, response.headers.get("etag")))
    return out


@pytest.mark.parametrize("write", list(WRITES))
async def test_the_read_after_a_write_answers_as_if_nothing_were_kept(
    database_url: str, redis_url: str, tmp_path: Path, write: str
) -> None:
    # Two instances of one database and one cache: `kept` keeps answers, `plain` keeps none
    # and is the reference. The writes go through either; the reads after them must agree.
    kept_settings = make_settings(database_url, tmp_path, redis_url=redis_url)
    plain_settings = make_settings(database_url, tmp_path, redis_url=redis_url, read_cache_bytes=0)
    async with RunningApp(kept_settings) as kept, RunningApp(plain_settings) as plain:
        headers = await auth_headers(kept.client, "writer@example.com")
        contact = await _ada(kept.client, headers)
        for writer in (kept, plain):
            for _ in range(2):  # the user cached, then the answers kept
                before = await _answers(kept.client, headers, contact)
            assert before == await _answers(plain.client, headers, contact)
            written = await WRITES[write](writer.client, headers, contact)
            assert written.status_code < 300, written.text
            after = await _answers(kept.client, headers, contact)
            assert after == await _answers(plain.client, headers, contact)
            assert after != before, "the write changed at least one read"
            await _reset(kept, headers, contact)


async def _reset(running: Harness, headers: dict[str, str], contact: dict[str, Any]) -> None:
    """Put Ada back as `_ada` made her, for the next writer."""
    client = running.client
    await client.post(f"{URL}/{contact['id']}/restore", headers=headers)
    body = ADA | {"birthday": contact["birthday"]}
    assert (await client.put(f"{URL}/{contact['id']}", json=body, headers=headers)).is_success
    for name in ("Pals",):
        tags = (await client.get("/api/tags", headers=headers)).json()
        for tag in tags:
            if tag["name"] == name:
                await client.delete(f"/api/tags/{tag['id']}", headers=headers)
    listed = (await client.get(URL, params={"limit": 100}, headers=headers)).json()
    for other in listed:
        if other["id"] != contact["id"]:
            await client.delete(f"{URL}/{other['id']}?permanent=true", headers=headers)


async def test_the_birthday_window_moves_at_midnight(
    kept_app: tuple[Harness, dict[str, str]],
) -> None:
    running, headers = kept_app
    soon = _soon(8)
    if not soon:
        pytest.skip("today + 8 is 29 February")
    body = {"first_name": "Eight", "email": "eight@example.com", "birthday": soon}
    assert (await running.client.post(URL, json=body, headers=headers)).is_success
    read = f"{URL}/birthdays?days=7"
    for _ in range(2):
        assert (await running.client.get(read, headers=headers)).json() == []
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    running.kit.now = lambda: tomorrow
    tokens = await login(running.client, "kept@example.com")  # the old one expired
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for _ in range(2):  # the user from the database, then from the cache
        found = (await running.client.get(read, headers=headers)).json()
    assert [c["first_name"] for c in found] == ["Eight"]


async def test_embedded_under_a_prefix_a_write_is_seen_at_once(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, "host@example.com") as (client, headers):
        contact = await _ada(client, headers, prefix="/v2")
        url = f"{API}/contacts/{contact['id']}"
        listing = f"{API}/contacts"
        for _ in range(3):
            tag = (await client.get(url, headers=headers)).headers["etag"]
            assert len((await client.get(listing, headers=headers)).json()) == 1
        changed = await client.patch(url, json={"first_name": "Augusta"}, headers=headers)
        assert changed.status_code == 200
        answer = await client.get(url, headers=headers | {"If-None-Match": tag})
        assert answer.status_code == 200
        assert answer.json()["first_name"] == "Augusta"
        assert answer.headers["x-host-middleware"] == "yes"
        assert (await client.delete(url, headers=headers)).status_code == 204
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.get(listing, headers=headers)).json() == []


def test_the_page_cache_keeps_within_its_budget_least_recently_used_out() -> None:
    owner, other = uuid.uuid4(), uuid.uuid4()
    cache = PageCache(max_bytes=3 * (100 + ENTRY_OVERHEAD))
    pages = {key: Page(bytes([key]) * 100, f'"{key}"') for key in range(4)}
    for key in range(3):
        cache.put(owner, "g1", key, pages[key])
    assert cache.get(owner, "g1", 0) == pages[0]  # 0 is now the most recently used
    cache.put(owner, "g1", 3, pages[3])
    assert cache.get(owner, "g1", 1) is None  # the least recently used went
    assert [cache.get(owner, "g1", key) for key in (0, 2, 3)] == [pages[0], pages[2], pages[3]]
    assert cache.size == 3 * (100 + ENTRY_OVERHEAD)
    # Another generation or another owner never sees the page.
    assert cache.get(owner, "g2", 0) is None
    assert cache.get(other, "g1", 0) is None
    # A page larger than the whole budget is answered but not kept.
    huge = Page(b"x" * 1000, '"huge"')
    assert cache.put(owner, "g1", "huge", huge) is huge
    assert cache.get(owner, "g1", "huge") is None
    # Replacing a key counts its bytes once.
    cache.put(owner, "g2", 0, pages[0])
    assert cache.size == 3 * (100 + ENTRY_OVERHEAD)
    assert len(cache) == 3


def test_a_request_without_a_generation_keeps_nothing() -> None:
    cache = PageCache(max_bytes=10_000)
    owner = uuid.uuid4()
    unmarked = OwnerPages(cache, owner, None)
    assert unmarked.put("k", b"[]", '"t"') == Page(b"[]", '"t"')
    assert unmarked.get("k") is None
    assert len(cache) == 0
    marked = OwnerPages(cache, owner, "g")
    marked.put("k", b"[]", '"t"')
    assert marked.get("k") == Page(b"[]", '"t"')
    assert OwnerPages(None, owner, "g").get("k") is None
