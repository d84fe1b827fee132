"""Sign-in with identity providers, against a local OpenID Connect provider and a
GitHub-shaped OAuth 2 server (tests/oidc_server.py) that speak the published protocols; authlib
does the client side for real. The browser is the test's httpx client: it follows the
redirects by hand and keeps the kit's cookie, as a browser would."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from contacts_kit import ContactsKit, Settings
from contacts_kit.auth.linking import allowed_redirect
from contacts_kit.auth.models import Identity
from contacts_kit.errors import ConfigurationError
from contacts_kit.users.models import User
from tests.conftest import PASSWORD, Harness, RunningApp, make_settings, signup
from tests.oidc_server import IdentityProvider, Person
from tests.smtp import SmtpServer, free_port, parts
from tests.test_embedding import API, _HostRoute, _running

REDIRECT = "https://app.example/after-login"


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    server = IdentityProvider()
    server.start()
    yield server
    server.stop()


def oauth_settings(idp: IdentityProvider) -> dict[str, Any]:
    return {
        "oauth_providers": [idp.provider_settings("idp"), idp.github_settings("github")],
        "oauth_redirect_allowlist": [REDIRECT, "http://localhost:5173/"],
    }


@pytest.fixture
async def app(
    database_url: str, tmp_path: Path, idp: IdentityProvider, smtp: SmtpServer
) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, tmp_path, **oauth_settings(idp), **smtp.settings())
    async with RunningApp(settings) as running:
        yield running


async def start(
    client: httpx.AsyncClient, provider: str = "idp", url: str = "/api", **params: str
) -> str:
    """Open the authorize route; the provider's URL the browser is sent to."""
    response = await client.get(
        f"{url}/auth/oauth/{provider}/authorize", params={"redirect_to": REDIRECT, **params}
    )
    assert response.status_code == 302, response.text
    assert response.headers["cache-control"] == "no-store"
    return response.headers["location"]


async def at_provider(authorize_url: str) -> str:
    """The provider consents at once: the callback URL it sends the browser back to."""
    async with httpx.AsyncClient() as browser:
        response = await browser.get(authorize_url)
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def back(client: httpx.AsyncClient, callback: str) -> dict[str, str]:
    """Follow the callback; the parameters the kit appended to `redirect_to`."""
    response = await client.get(callback)
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(target.query).items()}


async def sign_in(
    client: httpx.AsyncClient, provider: str = "idp", url: str = "/api", **params: str
) -> dict[str, str]:
    return await back(client, await at_provider(await start(client, provider, url, **params)))


async def exchange(client: httpx.AsyncClient, code: str, url: str = "/api") -> httpx.Response:
    return await client.post(f"{url}/auth/oauth/exchange", json={"code": code})


async def tokens_of(client: httpx.AsyncClient, provider: str = "idp", url: str = "/api") -> Any:
    params = await sign_in(client, provider, url)
    assert "code" in params, params
    response = await exchange(client, params["code"], url)
    assert response.status_code == 200, response.text
    return response.json()


def bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def count(app: Harness, model: Any) -> int:
    async with app.kit.engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_new_verified_email_signs_up_and_signs_in(
    app: Harness, idp: IdentityProvider
) -> None:
    client = app.client
    authorize = urlsplit(await start(client))
    query = parse_qs(authorize.query)
    # state, nonce and PKCE (S256), to the provider's endpoint from its discovery document.
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{idp.issuer}/authorize"
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["redirect_uri"] == ["http://testserver/api/auth/oauth/idp/callback"]
    cookie = next(c for c in client.cookies.jar if c.name == "contacts_kit_oauth")
    assert cookie.path == "/api/auth/oauth/idp/callback"

    params = await back(client, await at_provider(urlsplit(authorize.geturl()).geturl()))
    assert set(params) == {"code"}
    # The one-time code is not a token of ours.
    assert params["code"].count(".") == 0
    pair = await exchange(client, params["code"])
    assert pair.status_code == 200
    me = await client.get("/api/users/me", headers=bearer(pair.json()))
    assert me.json()["email"] == "ann@example.com"
    assert me.json()["is_verified"] is True

    # The same provider account again: the same user, no second account.
    again = await tokens_of(client)
    me_again = await client.get("/api/users/me", headers=bearer(again))
    assert me_again.json()["id"] == me.json()["id"]
    assert await count(app, User) == 1
    listed = await client.get("/api/users/me/identities", headers=bearer(again))
    assert [(i["provider"], i["email"]) for i in listed.json()] == [("idp", "ann@example.com")]
    # A session like any other.
    sessions = await client.get("/api/users/me/sessions", headers=bearer(again))
    assert len(sessions.json()) == 2


async def test_a_sign_in_code_is_good_once(app: Harness) -> None:
    params = await sign_in(app.client)
    assert (await exchange(app.client, params["code"])).status_code == 200
    replayed = await exchange(app.client, params["code"])
    assert replayed.status_code == 400
    assert replayed.json()["code"] == "INVALID_OAUTH_CODE"
    assert (await exchange(app.client, "made-up")).status_code == 400


async def test_a_sign_in_code_expires(app: Harness) -> None:
    params = await sign_in(app.client)
    real = app.kit.now
    later = real() + app.kit.settings.oauth_code_ttl
    app.kit.now = lambda: later
    try:
        assert (await exchange(app.client, params["code"])).status_code == 400
    finally:
        app.kit.now = real


async def test_a_callback_needs_the_browser_that_started_the_sign_in(app: Harness) -> None:
    callback = await at_provider(await start(app.client))
    # Another browser (no cookie) with the same callback URL: refused, nothing made.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app.app), base_url="http://testserver"
    ) as stranger:
        response = await stranger.get(callback)
    assert response.status_code == 400
    assert response.json()["code"] == "OAUTH_FLOW_INVALID"
    assert await count(app, User) == 0


async def test_a_bad_state_is_refused(app: Harness) -> None:
    callback = await at_provider(await start(app.client))
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    params = await back(app.client, forged)
    assert params["error"] == "invalid_state"
    assert "code" not in params
    assert await count(app, User) == 0


async def test_a_replayed_provider_code_is_refused(app: Harness, idp: IdentityProvider) -> None:
    first = await at_provider(await start(app.client))
    assert "code" in await back(app.client, first)
    # Replaying the callback: its state is spent and its cookie gone.
    assert (await app.client.get(first)).status_code == 400
    # The old code inside a new sign-in of the same browser: the provider refuses it.
    second = await at_provider(await start(app.client))
    old_code = parse_qs(urlsplit(first).query)["code"][0]
    replay = re.sub(r"code=[^&]+", f"code={old_code}", second)
    params = await back(app.client, replay)
    assert params["error"] == "provider_error"
    assert "invalid_grant" in params["error_description"]
    assert "code" not in params


async def test_a_sign_in_declined_at_the_provider_comes_back_as_access_denied(
    app: Harness, idp: IdentityProvider
) -> None:
    idp.deny = True
    params = await sign_in(app.client)
    assert params["error"] == "access_denied"
    assert idp.token_requests == 0
    assert await count(app, User) == 0


async def test_an_unreachable_provider_is_a_502_and_starts_nothing(
    database_url: str, tmp_path: Path, idp: IdentityProvider
) -> None:
    gone = {
        **idp.provider_settings("gone"),
        "server_metadata_url": f"http://127.0.0.1:{free_port()}/x",
    }
    settings = make_settings(
        database_url, tmp_path, oauth_providers=[gone], oauth_redirect_allowlist=[REDIRECT]
    )
    async with RunningApp(settings) as app:
        response = await app.client.get(
            "/api/auth/oauth/gone/authorize", params={"redirect_to": REDIRECT}
        )
    assert response.status_code == 502
    assert response.json()["code"] == "OAUTH_PROVIDER_UNAVAILABLE"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "fault", ["other_key", "expired", "other_audience", "wrong_nonce", "other_issuer"]
)
async def test_an_id_token_that_fails_a_check_signs_nobody_in(
    app: Harness, idp: IdentityProvider, fault: Any
) -> None:
    idp.id_token_fault = fault
    params = await sign_in(app.client)
    assert params["error"] == "invalid_id_token", params
    assert "code" not in params
    assert await count(app, User) == 0
    assert await count(app, Identity) == 0


@pytest.mark.parametrize(
    "redirect_to",
    [
        "https://evil.example/after-login",
        "https://app.example.evil.example/after-login",
        "https://app.example/after-login-page",
        "http://app.example/after-login",
        "https://ann@app.example/after-login",
        "https://app.example:8443/after-login",
        "//evil.example/after-login",
        "javascript:alert(1)",
    ],
)
async def test_a_redirect_off_the_allow_list_is_refused(app: Harness, redirect_to: str) -> None:
    response = await app.client.get(
        "/api/auth/oauth/idp/authorize", params={"redirect_to": redirect_to}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "OAUTH_REDIRECT_NOT_ALLOWED"
    assert "set-cookie" not in response.headers


def test_the_allow_list_matches_origin_and_path() -> None:
    allow = [REDIRECT, "http://localhost:5173/"]
    assert allowed_redirect("https://app.example/after-login?next=/contacts", allow)
    assert allowed_redirect("https://app.example/after-login/deeper", allow)
    assert allowed_redirect("https://APP.example/after-login", allow)
    assert allowed_redirect("http://localhost:5173/anything", allow)
    assert not allowed_redirect("http://localhost:5174/", allow)
    assert not allowed_redirect("https://app.example/", allow)
    # Dot segments, plain or encoded, and backslashes leave the allowed path in a browser.
    for escape in (
        "https://app.example/after-login/../../admin",
        "https://app.example/after-login/%2e%2e/%2E%2E/admin",
        "https://app.example/after-login/.%2e/admin",
        "https://app.example/after-login/%2e/x",
        "https://app.example/after-login/..%2fadmin",
        "https://app.example/after-login/..\\admin",
    ):
        assert not allowed_redirect(escape, allow), escape


async def test_an_unknown_provider_is_a_404(app: Harness) -> None:
    response = await app.client.get(
        "/api/auth/oauth/nope/authorize", params={"redirect_to": REDIRECT}
    )
    assert response.status_code == 404
    assert response.json()["code"] == "OAUTH_PROVIDER_NOT_FOUND"


async def test_takeover_an_unverified_provider_email_never_reaches_an_account(
    app: Harness, idp: IdentityProvider, smtp: SmtpServer
) -> None:
    client = app.client
    await signup(client, "victim@example.com")
    mails = len(smtp.messages)
    async with app.kit.engine.begin() as connection:
        await connection.execute(User.__table__.update().values(is_verified=True))
    # The attacker's provider account claims the victim's address, unverified.
    idp.next_user = Person("attacker", "Victim@Example.com", email_verified=False)
    params = await sign_in(client)
    assert params["error"] == "account_exists"
    assert "code" not in params
    assert await count(app, Identity) == 0
    assert await count(app, User) == 1
    assert (await client.get("/api/users/me/sessions")).status_code == 401
    assert len(smtp.messages) == mails


async def test_a_verified_email_links_only_to_a_verified_account(
    app: Harness, idp: IdentityProvider, smtp: SmtpServer
) -> None:
    client = app.client
    await signup(client, "ann@example.com")
    # The local account never proved the address: no link.
    params = await sign_in(client)
    assert params["error"] == "account_exists"
    assert await count(app, Identity) == 0
    async with app.kit.engine.begin() as connection:
        await connection.execute(User.__table__.update().values(is_verified=True))
    # Both sides proved it: linked, signed in, and the owner hears of it.
    pair = await tokens_of(client)
    me = await client.get("/api/users/me", headers=bearer(pair))
    assert me.json()["email"] == "ann@example.com"
    assert await count(app, User) == 1
    assert smtp.messages[-1]["Subject"] == "A sign-in was linked to your account"
    assert "ann@example.com" in smtp.messages[-1]["To"]
    assert "idp account is now linked" in parts(smtp.messages[-1])["text/plain"]
    # The password still works too.
    login = await client.post(
        "/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200


async def test_an_unverified_new_email_must_be_verified_first(
    database_url: str, tmp_path: Path, idp: IdentityProvider, smtp: SmtpServer
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        **oauth_settings(idp),
        **smtp.settings(),
        require_verified_email=True,
    )
    async with RunningApp(settings) as app:
        idp.next_user = Person("subject-2", "new@example.com", email_verified=False)
        params = await sign_in(app.client)
        assert params["error"] == "email_not_verified"
        assert smtp.messages[-1]["Subject"] == "Confirm your email address"
        link = re.search(r"http://testserver(\S+)", parts(smtp.messages[-1])["text/plain"])
        assert link is not None
        assert (await app.client.get(link.group(1))).status_code == 200
        pair = await tokens_of(app.client)
        me = await app.client.get("/api/users/me", headers=bearer(pair))
        assert me.json()["is_verified"] is True


async def test_no_email_from_the_provider_creates_nothing(
    app: Harness, idp: IdentityProvider
) -> None:
    idp.next_user = Person("subject-3", None)
    params = await sign_in(app.client)
    assert params["error"] == "email_required"
    assert await count(app, User) == 0


async def test_github_signs_in_with_its_primary_verified_email(
    app: Harness, idp: IdentityProvider
) -> None:
    idp.next_user = Person("4242", "Octo@Example.com")
    pair = await tokens_of(app.client, "github")
    me = await app.client.get("/api/users/me", headers=bearer(pair))
    assert me.json()["email"] == "octo@example.com"
    listed = await app.client.get("/api/users/me/identities", headers=bearer(pair))
    assert [i["provider"] for i in listed.json()] == ["github"]
    # GitHub's unverified primary email cannot link to an existing account either.
    await signup(app.client, "other@example.com")
    idp.next_user = Person("4343", "other@example.com", email_verified=False)
    assert (await sign_in(app.client, "github"))["error"] == "account_exists"


async def test_link_while_logged_in_then_unlink_rules(
    app: Harness, idp: IdentityProvider, smtp: SmtpServer
) -> None:
    client = app.client
    # A provider-only account: no password.
    pair = await tokens_of(client)
    headers = bearer(pair)
    only = (await client.get("/api/users/me/identities", headers=headers)).json()
    refused = await client.delete(f"/api/users/me/identities/{only[0]['id']}", headers=headers)
    assert refused.status_code == 409
    assert refused.json()["code"] == "LAST_LOGIN_METHOD"

    # Link GitHub (another email there, which does not matter: the user is logged in).
    idp.next_user = Person("777", "ann.work@example.com")
    started = await client.post(
        "/api/users/me/identities/github", json={"redirect_to": REDIRECT}, headers=headers
    )
    assert started.status_code == 200, started.text
    authorize_url = started.json()["authorize_url"]
    assert authorize_url.startswith("http://testserver/api/auth/oauth/github/authorize?")
    opened = await client.get(authorize_url)
    assert opened.status_code == 302
    params = await back(client, await at_provider(opened.headers["location"]))
    assert params == {"linked": "github"}
    assert "github account is now linked" in parts(smtp.messages[-1])["text/plain"]
    providers = [
        i["provider"]
        for i in (await client.get("/api/users/me/identities", headers=headers)).json()
    ]
    assert providers == ["idp", "github"]
    # Signing in with GitHub is signing in as this user.
    github_pair = await tokens_of(client, "github")
    same = await client.get("/api/users/me", headers=bearer(github_pair))
    assert same.json()["email"] == "ann@example.com"
    # Twice the same provider: refused up front.
    again = await client.post(
        "/api/users/me/identities/github", json={"redirect_to": REDIRECT}, headers=headers
    )
    assert again.json()["code"] == "PROVIDER_ALREADY_LINKED"
    # Now the first one can go, not the last.
    assert (
        await client.delete(f"/api/users/me/identities/{only[0]['id']}", headers=headers)
    ).status_code == 204
    left = (await client.get("/api/users/me/identities", headers=headers)).json()
    last = await client.delete(f"/api/users/me/identities/{left[0]['id']}", headers=headers)
    assert last.status_code == 409
    assert (
        await client.delete(f"/api/users/me/identities/{only[0]['id']}", headers=headers)
    ).status_code == 404


async def test_a_provider_account_of_another_user_cannot_be_linked(
    app: Harness, idp: IdentityProvider
) -> None:
    client = app.client
    await tokens_of(client)  # subject-1 belongs to ann@example.com now
    headers = {"Authorization": f"Bearer {(await _password_user(client, 'bob@example.com'))}"}
    started = await client.post(
        "/api/users/me/identities/idp", json={"redirect_to": REDIRECT}, headers=headers
    )
    opened = await client.get(started.json()["authorize_url"])
    params = await back(client, await at_provider(opened.headers["location"]))
    assert params["error"] == "identity_in_use"
    assert await count(app, Identity) == 1


async def _password_user(client: httpx.AsyncClient, email: str) -> str:
    await signup(client, email)
    login = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    return str(login.json()["access_token"])


async def test_a_password_user_may_unlink_its_only_identity(
    app: Harness, idp: IdentityProvider
) -> None:
    client = app.client
    headers = {"Authorization": f"Bearer {await _password_user(client, 'pat@example.com')}"}
    started = await client.post(
        "/api/users/me/identities/idp", json={"redirect_to": REDIRECT}, headers=headers
    )
    opened = await client.get(started.json()["authorize_url"])
    assert await back(client, await at_provider(opened.headers["location"])) == {"linked": "idp"}
    identity = (await client.get("/api/users/me/identities", headers=headers)).json()[0]
    assert (
        await client.delete(f"/api/users/me/identities/{identity['id']}", headers=headers)
    ).status_code == 204


async def test_a_provider_only_user_sets_a_password_through_the_reset_flow(
    app: Harness, smtp: SmtpServer
) -> None:
    client = app.client
    await tokens_of(client)
    # No password yet: a password login fails like any wrong password.
    login = await client.post(
        "/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    assert login.status_code == 401
    await client.post("/api/auth/password-reset", json={"email": "ann@example.com"})
    link = re.search(r"token=(\S+)", parts(smtp.messages[-1])["text/plain"])
    assert link is not None
    reset = await client.post(
        "/api/auth/password-reset/confirm",
        json={"token": link.group(1), "new_password": PASSWORD},
    )
    assert reset.status_code == 204
    login = await client.post(
        "/api/auth/login", json={"email": "ann@example.com", "password": PASSWORD}
    )
    assert login.status_code == 200
    # With a password, the only identity can go.
    headers = bearer(login.json())
    identity = (await client.get("/api/users/me/identities", headers=headers)).json()[0]
    assert (
        await client.delete(f"/api/users/me/identities/{identity['id']}", headers=headers)
    ).status_code == 204


async def test_a_two_factor_user_passes_the_second_step_after_a_provider(app: Harness) -> None:
    client = app.client
    headers = bearer(await tokens_of(client))
    enrolment = (await client.post("/api/users/me/2fa/totp", headers=headers)).json()
    authenticator = pyotp.TOTP(enrolment["secret"])
    confirmed = await client.post(
        "/api/users/me/2fa/totp/confirm", json={"code": authenticator.now()}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    params = await sign_in(client)
    challenge = await exchange(client, params["code"])
    assert challenge.status_code == 200
    assert challenge.json()["mfa_required"] is True
    assert "access_token" not in challenge.json()
    second = await client.post(
        "/api/auth/login/2fa",
        json={"mfa_token": challenge.json()["mfa_token"], "recovery_code": codes[0]},
    )
    assert second.status_code == 200, second.text
    assert "access_token" in second.json()


async def test_the_callback_cookie_expires_with_the_flow(app: Harness) -> None:
    callback = await at_provider(await start(app.client))
    real = app.kit.now
    later = real() + app.kit.settings.oauth_flow_ttl
    app.kit.now = lambda: later
    try:
        response = await app.client.get(callback)
    finally:
        app.kit.now = real
    assert response.status_code == 400
    assert response.json()["code"] == "OAUTH_FLOW_INVALID"


async def test_embedded_under_a_host_prefix(
    database_url: str, tmp_path: Path, idp: IdentityProvider
) -> None:
    kit = ContactsKit(
        make_settings(database_url, tmp_path, **oauth_settings(idp)), route_class=_HostRoute
    )
    async with _running(kit) as (_, client):
        authorize = await start(client, url=API)
        assert parse_qs(urlsplit(authorize).query)["redirect_uri"] == [
            f"http://testserver{API}/auth/oauth/idp/callback"
        ]
        callback = await at_provider(authorize)
        response = await client.get(callback)
        assert response.status_code == 303
        assert response.headers["x-host-middleware"] == "yes"
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        pair = await exchange(client, code, url=API)
        assert pair.status_code == 200
        assert pair.headers["x-host-route"] == "yes"
        me = await client.get(f"{API}/users/me", headers=bearer(pair.json()))
        assert me.json()["email"] == "ann@example.com"
        assert (await client.post(f"{API}/auth/oauth/exchange", json={})).status_code == 422
        unknown = await client.get(
            f"{API}/auth/oauth/nope/authorize", params={"redirect_to": REDIRECT}
        )
        assert unknown.json()["code"] == "OAUTH_PROVIDER_NOT_FOUND"


async def test_no_provider_no_routes(harness: Harness) -> None:
    paths = harness.app.openapi()["paths"]
    assert not any("/oauth/" in path or "/identities" in path for path in paths)


def test_providers_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CONTACTS_KIT_OAUTH_PROVIDERS",
        '[{"name": "corp", "client_id": "a", "client_secret": "s3cret-corp",'
        ' "server_metadata_url": "https://id.corp.example/.well-known/openid-configuration"},'
        ' {"name": "github", "kind": "github", "client_id": "c", "client_secret": "d"}]',
    )
    monkeypatch.setenv("CONTACTS_KIT_OAUTH_REDIRECT_ALLOWLIST", "https://app.example/back")
    settings = Settings(_env_file=None)
    corp, github = settings.oauth_providers
    assert corp.scopes == "openid email profile"
    assert github.scopes == "read:user user:email"
    assert github.token_url == "https://github.com/login/oauth/access_token"
    assert settings.oauth_redirect_allowlist == ["https://app.example/back"]
    assert "s3cret-corp" not in repr(settings)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"oauth_providers": [{"name": "x", "client_id": "a", "client_secret": "b"}]}, "needs"),
        (
            {
                "oauth_providers": [
                    {"name": "x", "kind": "github", "client_id": "a", "client_secret": "b"},
                    {"name": "x", "kind": "github", "client_id": "a", "client_secret": "b"},
                ]
            },
            "same name",
        ),
        (
            {
                "oauth_providers": [
                    {"name": "Bad Name", "kind": "github", "client_id": "a", "client_secret": "b"}
                ]
            },
            "pattern",
        ),
        ({"oauth_redirect_allowlist": ["/relative"]}, "absolute"),
    ],
)
def test_bad_provider_settings_are_refused_with_the_reason(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(_env_file=None, **values)


async def test_a_link_token_is_good_once(app: Harness, idp: IdentityProvider) -> None:
    client = app.client
    headers = {"Authorization": f"Bearer {await _password_user(client, 'lee@example.com')}"}
    started = await client.post(
        "/api/users/me/identities/idp", json={"redirect_to": REDIRECT}, headers=headers
    )
    authorize_url = started.json()["authorize_url"]
    assert (await client.get(authorize_url)).status_code == 302
    # The same URL again (from a history, a log): refused, nothing started.
    again = await client.get(authorize_url)
    assert again.status_code == 401
    assert "used already" in again.json()["detail"]
    # A link token is for its provider only.
    token = parse_qs(urlsplit(authorize_url).query)["link_token"][0]
    other = await client.get(
        "/api/auth/oauth/github/authorize", params={"redirect_to": REDIRECT, "link_token": token}
    )
    assert other.status_code == 401


def test_providers_without_an_allow_list_stop_the_start(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        oauth_providers=[{"name": "gh", "kind": "github", "client_id": "a", "client_secret": "b"}],
    )
    with pytest.raises(ConfigurationError, match="OAUTH_REDIRECT_ALLOWLIST"):
        ContactsKit(settings)


async def test_the_callback_may_reach_another_instance_sharing_redis(
    database_url: str, tmp_path: Path, idp: IdentityProvider, redis_url: str
) -> None:
    settings = make_settings(database_url, tmp_path, **oauth_settings(idp), redis_url=redis_url)
    async with RunningApp(settings) as one, RunningApp(settings, clean=False) as two:
        authorize = await start(one.client)
        callback = await at_provider(authorize)
        # The browser's cookie goes along; the state is in the shared cache.
        two.client.cookies = one.client.cookies
        params = await back(two.client, callback)
        assert "code" in params
        assert (await exchange(one.client, params["code"])).status_code == 200
