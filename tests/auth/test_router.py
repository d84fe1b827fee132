"""Account routes over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import unicodedata
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import func, select, update

from contacts_kit.auth.models import RefreshToken
from contacts_kit.db.engine import make_session_factory
from contacts_kit.users.models import User
from tests.conftest import PASSWORD, Harness, RunningApp, auth_headers, login, signup


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


async def _count(harness: Harness, model: type) -> int:
    async with make_session_factory(harness.kit.engine)() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_signup_returns_the_user_without_secrets(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/signup", json={"email": "Ada@Example.COM", "password": PASSWORD}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "is_verified", "avatar_url", "created_at"}
    assert body["email"] == "ada@example.com"
    assert body["is_verified"] is False
    assert body["avatar_url"] is None


async def test_signup_with_a_taken_email_in_any_case_is_409(client: httpx.AsyncClient) -> None:
    await signup(client, "grace@example.com")
    response = await client.post(
        "/api/auth/signup", json={"email": "GRACE@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "EMAIL_ALREADY_REGISTERED"


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "a@example.com", "password": "short"},
        {"email": "a@example.com", "password": "x" * 129},
        {"email": "a@example.com", "password": " " * 8},
        {"email": "a@example.com", "password": "\t \u00a0\u3000    "},
        {"email": "a@example.com"},
        {"password": PASSWORD},
    ],
)
async def test_signup_rejects_bad_input_with_422(harness: Harness, body: dict[str, str]) -> None:
    response = await harness.client.post("/api/auth/signup", json=body)
    assert response.status_code == 422
    assert await _count(harness, User) == 0


async def test_password_of_128_characters_is_accepted(client: httpx.AsyncClient) -> None:
    await signup(client, "long@example.com", "p" * 128)
    await login(client, "long@example.com", "p" * 128)


async def test_a_password_is_the_same_composed_or_not(client: httpx.AsyncClient) -> None:
    composed = unicodedata.normalize("NFC", "Crème brûlée für Zoë")
    await signup(client, "unicode@example.com", composed)
    await login(client, "unicode@example.com", unicodedata.normalize("NFD", composed))
    await login(client, "unicode@example.com", composed)
    wrong = {"email": "unicode@example.com", "password": "Creme brulee fur Zoe"}
    assert (await client.post("/api/auth/login", json=wrong)).status_code == 401


async def test_a_hash_made_before_normalisation_still_opens_the_account(
    harness: Harness,
) -> None:
    # An account whose hash is of the password as it was typed (decomposed), as the kit
    # stored it before it normalised passwords.
    typed = unicodedata.normalize("NFD", "Crème brûlée für Zoë")
    await signup(harness.client, "legacy@example.com")
    settings = harness.kit.settings
    legacy = PasswordHash(
        (
            Argon2Hasher(
                time_cost=settings.password_hash_time_cost,
                memory_cost=settings.password_hash_memory_cost,
                parallelism=settings.password_hash_parallelism,
            ),
        )
    ).hash(typed)
    async with make_session_factory(harness.kit.engine)() as session:
        await session.execute(update(User).values(hashed_password=legacy))
        await session.commit()
    await login(harness.client, "legacy@example.com", typed)


async def test_the_reset_form_runs_only_its_own_script_and_is_never_framed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/auth/password-reset/confirm", params={"token": "t"})
    assert response.status_code == 200
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["form-action"] == "'self'"
    nonce = policy["script-src"].removeprefix("'nonce-").removesuffix("'")
    assert f'<script nonce="{nonce}">' in response.text
    assert "<script>" not in response.text
    assert " style=" not in response.text
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    again = await client.get("/api/auth/password-reset/confirm", params={"token": "t"})
    assert again.headers["content-security-policy"] != response.headers["content-security-policy"]


async def test_password_is_stored_as_an_argon2_hash(harness: Harness) -> None:
    await signup(harness.client, "hash@example.com")
    async with make_session_factory(harness.kit.engine)() as session:
        stored = await session.scalar(select(User.hashed_password))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


async def test_login_with_json_returns_a_bearer_pair(client: httpx.AsyncClient) -> None:
    await signup(client, "json@example.com")
    tokens = await login(client, "JSON@example.com")
    assert tokens["token_type"] == "bearer"
    assert tokens["access_token"] != tokens["refresh_token"]


async def test_login_with_the_oauth2_form_works(client: httpx.AsyncClient) -> None:
    await signup(client, "form@example.com")
    # The OAuth2 password form has its own path (Swagger UI's Authorize button posts there).
    response = await client.post(
        "/api/auth/token", data={"username": "Form@Example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    me = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"}
    )
    assert me.json()["email"] == "form@example.com"


async def test_unknown_email_and_wrong_password_give_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    await signup(client, "known@example.com")
    wrong = await client.post(
        "/api/auth/login", json={"email": "known@example.com", "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


@pytest.mark.parametrize(
    ("path", "content", "content_type", "expected"),
    [
        ("login", b"{not json", "application/json", 422),
        ("login", b'{"email": "a@example.com"}', "application/json", 422),
        ("login", b"username=a%40example.com&password=x", "application/x-www-form-urlencoded", 422),
        ("login", b"\x80\xff", "application/json", 400),  # not UTF-8: cannot be parsed
        ("login", b"\x80\xff", "text/plain", 422),
        ("login", b"[1, 2]", "application/json", 422),
        ("token", b"username=a%40example.com", "application/x-www-form-urlencoded", 422),
        ("token", b"username=not-an-email&password=x", "application/x-www-form-urlencoded", 422),
        ("token", b'{"username": "a@example.com"}', "application/json", 422),
    ],
)
async def test_malformed_login_is_a_4xx(
    client: httpx.AsyncClient, path: str, content: bytes, content_type: str, expected: int
) -> None:
    response = await client.post(
        f"/api/auth/{path}", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/json"


async def test_me_returns_the_user_of_the_token(client: httpx.AsyncClient) -> None:
    headers = await auth_headers(client, "me@example.com")
    response = await client.get("/api/users/me", headers=headers)
    assert response.status_code == 200
    assert response.json()["email"] == "me@example.com"


async def _assert_rejected(client: httpx.AsyncClient, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = await client.get("/api/users/me", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    await _assert_rejected(client, None)


async def test_tampered_token_is_401(client: httpx.AsyncClient) -> None:
    await signup(client, "tamper@example.com")
    access = (await login(client, "tamper@example.com"))["access_token"]
    header, payload, signature = access.split(".")
    claims = json.loads(_unb64(payload))
    claims["sub"] = "00000000-0000-0000-0000-000000000000"
    await _assert_rejected(client, f"{header}.{_b64(json.dumps(claims).encode())}.{signature}")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    await _assert_rejected(client, f"{header}.{payload}.{flipped}")
    await _assert_rejected(client, "not.a.token")


async def test_alg_none_token_is_401(client: httpx.AsyncClient) -> None:
    await signup(client, "none@example.com")
    access = (await login(client, "none@example.com"))["access_token"]
    payload = access.split(".")[1]
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    await _assert_rejected(client, f"{header}.{payload}.")


async def test_refresh_token_is_not_an_access_token(client: httpx.AsyncClient) -> None:
    await signup(client, "typed@example.com")
    tokens = await login(client, "typed@example.com")
    await _assert_rejected(client, tokens["refresh_token"])
    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert response.status_code == 401


async def test_expired_access_token_is_401(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with RunningApp(settings) as running:
        await signup(running.client, "expired@example.com")
        access = (await login(running.client, "expired@example.com"))["access_token"]
        assert (
            await running.client.get("/api/users/me", headers={"Authorization": f"Bearer {access}"})
        ).status_code == 200
        later = datetime.now(UTC) + settings.access_token_ttl + timedelta(seconds=5)
        running.kit.now = lambda: later
        await _assert_rejected(running.client, access)


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(
    client: httpx.AsyncClient,
) -> None:
    await signup(client, "rotate@example.com")
    first = await login(client, "rotate@example.com")
    second = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    me = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
    )
    assert me.status_code == 200

    reused = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    # The replay revoked the whole family: the legitimately rotated token is dead too.
    after = await client.post("/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert after.status_code == 401


async def test_other_sessions_survive_a_reuse_in_one_family(client: httpx.AsyncClient) -> None:
    await signup(client, "two@example.com")
    laptop = await login(client, "two@example.com")
    phone = await login(client, "two@example.com")
    await client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    await client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    response = await client.post(
        "/api/auth/refresh", json={"refresh_token": phone["refresh_token"]}
    )
    assert response.status_code == 200


async def test_refresh_tokens_are_stored_only_as_hashes(harness: Harness) -> None:
    await signup(harness.client, "stored@example.com")
    refresh = (await login(harness.client, "stored@example.com"))["refresh_token"]
    async with make_session_factory(harness.kit.engine)() as session:
        rows = (await session.scalars(select(RefreshToken.token_hash))).all()
    assert rows == [hashlib.sha256(refresh.encode()).hexdigest()]


async def test_logout_kills_the_refresh_token(client: httpx.AsyncClient) -> None:
    await signup(client, "logout@example.com")
    tokens = await login(client, "logout@example.com")
    response = await client.post(
        "/api/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 204
    again = await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


async def test_logout_with_a_forged_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/logout", json={"refresh_token": "a.b.c"})
    assert response.status_code == 401


async def test_delete_me_with_a_wrong_password_deletes_nothing(harness: Harness) -> None:
    headers = await auth_headers(harness.client, "keep@example.com")
    response = await harness.client.request(
        "DELETE", "/api/users/me", json={"password": "wrong password"}, headers=headers
    )
    assert response.status_code == 401
    assert await _count(harness, User) == 1
    assert (await harness.client.get("/api/users/me", headers=headers)).status_code == 200


async def test_delete_me_removes_the_account_and_its_tokens(harness: Harness) -> None:
    client = harness.client
    await signup(client, "gone@example.com")
    tokens = await login(client, "gone@example.com")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    response = await client.request(
        "DELETE", "/api/users/me", json={"password": PASSWORD}, headers=headers
    )
    assert response.status_code == 204
    assert await _count(harness, User) == 0
    assert await _count(harness, RefreshToken) == 0
    assert (await client.get("/api/users/me", headers=headers)).status_code == 401
    refresh = await client.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refresh.status_code == 401
    relogin = await client.post(
        "/api/auth/login", json={"email": "gone@example.com", "password": PASSWORD}
    )
    assert relogin.status_code == 401


async def test_openapi_documents_one_body_per_login_path(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    login = spec["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]
    token = spec["paths"]["/api/auth/token"]["post"]["requestBody"]["content"]
    assert set(login) == {"application/json"}
    assert set(token) == {"application/x-www-form-urlencoded"}
    flows = spec["components"]["securitySchemes"]["ContactsKitOAuth2"]["flows"]
    assert flows["password"]["tokenUrl"] == "/api/auth/token"


async def test_concurrent_signups_with_one_email_yield_exactly_one_account(
    postgres_database_url: str,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(postgres_database_url, tmp_path)
    async with RunningApp(settings) as running:
        responses = await asyncio.gather(
            *(
                running.client.post(
                    "/api/auth/signup", json={"email": "race@example.com", "password": PASSWORD}
                )
                for _ in range(50)
            )
        )
        codes = sorted(response.status_code for response in responses)
        assert codes.count(201) == 1
        assert codes.count(409) == 49


async def test_validation_errors_never_echo_the_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/signup", json={"email": "echo@example.com", "password": "tiny-pw"}
    )
    assert response.status_code == 422
    assert "tiny-pw" not in response.text
    assert response.json()["detail"][0]["loc"] == ["body", "password"]
