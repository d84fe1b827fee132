"""Two-factor authentication with TOTP: enrolment with a QR code, confirmation with recovery
codes, the second step of a login, codes good once, recovery codes, turning it off, the
security mails (to a real SMTP server), rate limits; on both dialects and embedded in a host
app. The authenticator app is pyotp itself, on the kit's clock."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select

from contacts_kit.auth.models import RecoveryCode, TotpFactor
from contacts_kit.db.engine import make_session_factory
from tests.conftest import PASSWORD, Harness, RunningApp, make_settings, signup
from tests.smtp import SmtpServer, parts
from tests.test_embedding import API, embedded_user

EMAIL = "two@example.com"


class Clock:
    """The kit's clock, moved by the test: codes are a matter of time steps."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, 12, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: int = 30) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def app(database_url: str, tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[Harness]:
    async with RunningApp(make_settings(database_url, tmp_path, **smtp.settings())) as running:
        yield running


@pytest.fixture
def clock(app: Harness) -> Clock:
    clock = Clock()
    app.kit.now = clock
    return clock


def _bearer(pair: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def _login(client: httpx.AsyncClient, password: str = PASSWORD, url: str = "/api") -> Any:
    response = await client.post(f"{url}/auth/login", json={"email": EMAIL, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


async def _second(client: httpx.AsyncClient, mfa_token: str, url: str = "/api", **code: str) -> Any:
    return await client.post(f"{url}/auth/login/2fa", json={"mfa_token": mfa_token, **code})


async def _enrol(
    client: httpx.AsyncClient, headers: dict[str, str], clock: Clock, url: str = "/api"
) -> tuple[pyotp.TOTP, list[str]]:
    """Turn 2FA on as a user would: scan, then type the app's code. The app and the codes."""
    started = await client.post(f"{url}/users/me/2fa/totp", headers=headers)
    assert started.status_code == 200, started.text
    app = pyotp.TOTP(started.json()["secret"])
    confirmed = await client.post(
        f"{url}/users/me/2fa/totp/confirm", json={"code": app.at(clock.now)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    codes: list[str] = confirmed.json()["recovery_codes"]
    return app, codes


async def _user(app: Harness) -> dict[str, str]:
    await signup(app.client, EMAIL)
    return _bearer(await _login(app.client))


async def test_enrolment_gives_a_scannable_secret_and_changes_nothing_until_confirmed(
    app: Harness, clock: Clock
) -> None:
    client = app.client
    headers = await _user(app)
    started = await client.post("/api/users/me/2fa/totp", headers=headers)
    assert started.status_code == 200
    body = started.json()
    uri = pyotp.parse_uri(body["otpauth_uri"])
    assert isinstance(uri, pyotp.TOTP)
    assert uri.secret == body["secret"]
    assert len(body["secret"]) == 32  # 160 bits
    assert uri.name == EMAIL
    assert uri.issuer == "contacts-kit"
    assert body["qr_svg"].startswith("<svg")
    assert "<path" in body["qr_svg"]
    # Pending: logins still give tokens at once, and the status says off.
    assert "access_token" in await _login(client)
    status = await client.get("/api/users/me/2fa", headers=headers)
    assert status.json() == {"totp_enabled": False, "recovery_codes_left": 0}
    # The secret is stored encrypted, never as the app sees it.
    async with make_session_factory(app.kit.engine)() as session:
        stored = await session.scalar(select(TotpFactor.encrypted_secret))
    assert stored is not None
    assert body["secret"] not in stored
    # Starting again replaces the secret: the first one's codes no longer confirm.
    again = (await client.post("/api/users/me/2fa/totp", headers=headers)).json()
    assert again["secret"] != body["secret"]
    stale = pyotp.TOTP(body["secret"]).at(clock.now)
    refused = await client.post(
        "/api/users/me/2fa/totp/confirm", json={"code": stale}, headers=headers
    )
    assert refused.status_code == 401
    assert refused.json()["code"] == "INVALID_MFA_CODE"


async def test_confirming_turns_it_on_with_ten_recovery_codes_and_a_mail(
    app: Harness, clock: Clock, smtp: SmtpServer
) -> None:
    client = app.client
    headers = await _user(app)
    nothing = await client.post(
        "/api/users/me/2fa/totp/confirm", json={"code": "123456"}, headers=headers
    )
    assert nothing.status_code == 409
    assert nothing.json()["code"] == "TOTP_NOT_STARTED"
    for bad in ("12345", "abcdef", "1234567", ""):
        malformed = await client.post(
            "/api/users/me/2fa/totp/confirm", json={"code": bad}, headers=headers
        )
        assert malformed.status_code == 422, bad
    _, codes = await _enrol(client, headers, clock)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(len(code) >= 10 for code in codes)
    async with make_session_factory(app.kit.engine)() as session:
        stored = set(await session.scalars(select(RecoveryCode.code_hash)))
    assert len(stored) == 10
    assert not stored & set(codes)  # only hashes are kept
    status = await client.get("/api/users/me/2fa", headers=headers)
    assert status.json() == {"totp_enabled": True, "recovery_codes_left": 10}
    again = await client.post("/api/users/me/2fa/totp", headers=headers)
    assert again.status_code == 409
    assert again.json()["code"] == "TOTP_ALREADY_ENABLED"
    [notice] = [m for m in smtp.messages if m["Subject"] == "Two-factor authentication is on"]
    assert EMAIL in parts(notice)["text/plain"]


async def test_a_login_then_needs_a_code_and_each_code_works_once(
    app: Harness, clock: Clock
) -> None:
    client = app.client
    headers = await _user(app)
    authenticator, _ = await _enrol(client, headers, clock)
    first = await _login(client)
    assert first["mfa_required"] is True
    assert set(first) == {"mfa_required", "mfa_token"}
    # The code that confirmed the enrolment is spent: the app's next one works.
    spent = await _second(client, first["mfa_token"], code=authenticator.at(clock.now))
    assert spent.status_code == 401
    assert spent.json()["code"] == "INVALID_MFA_CODE"
    clock.tick()
    code = authenticator.at(clock.now)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert (await _second(client, first["mfa_token"], code=wrong)).status_code == 401
    pair = await _second(client, first["mfa_token"], code=code)
    assert pair.status_code == 200, pair.text
    assert (await client.get("/api/users/me", headers=_bearer(pair.json()))).status_code == 200
    # The same code again, even with a new first step, is refused; so is an older one.
    replay = await _second(client, (await _login(client))["mfa_token"], code=code)
    assert replay.status_code == 401
    clock.tick()
    late = await _second(client, (await _login(client))["mfa_token"], code=code)
    assert late.status_code == 401
    # One step of clock drift either way is accepted.
    clock.tick(60)
    ahead = authenticator.at(clock.now + timedelta(seconds=30))
    assert (await _second(client, (await _login(client))["mfa_token"], code=ahead)).is_success


async def test_the_mfa_token_is_for_the_second_step_only_and_briefly(
    app: Harness, clock: Clock
) -> None:
    client = app.client
    headers = await _user(app)
    authenticator, _ = await _enrol(client, headers, clock)
    challenge = await _login(client)
    # Not an access token, nor a refresh token.
    assert (
        await client.get("/api/users/me", headers=_bearer({"access_token": challenge["mfa_token"]}))
    ).status_code == 401
    refresh = await client.post("/api/auth/refresh", json={"refresh_token": challenge["mfa_token"]})
    assert refresh.status_code == 401
    # An access token is not an mfa token.
    clock.tick()
    forged = await _second(client, headers["Authorization"][7:], code=authenticator.at(clock.now))
    assert forged.status_code == 401
    assert forged.json()["code"] == "INVALID_TOKEN"
    both = await _second(
        client, challenge["mfa_token"], code=authenticator.at(clock.now), recovery_code="x"
    )
    assert both.status_code == 422
    assert (await _second(client, challenge["mfa_token"])).status_code == 422
    # Five minutes later it has expired.
    clock.tick(301)
    expired = await _second(client, challenge["mfa_token"], code=authenticator.at(clock.now))
    assert expired.status_code == 401
    assert expired.json()["code"] == "INVALID_TOKEN"
    # The OAuth2 password form cannot carry a second step: a clear 403, no tokens.
    form = await client.post("/api/auth/token", data={"username": EMAIL, "password": PASSWORD})
    assert form.status_code == 403
    assert form.json()["code"] == "MFA_REQUIRED"
    bad = await client.post("/api/auth/token", data={"username": EMAIL, "password": "wrong!!!"})
    assert bad.status_code == 401


async def test_a_recovery_code_logs_in_once_and_mails_the_owner(
    app: Harness, clock: Clock, smtp: SmtpServer
) -> None:
    client = app.client
    headers = await _user(app)
    _, codes = await _enrol(client, headers, clock)
    typed = codes[3].upper().replace("-", " ")  # as a person may type it
    pair = await _second(client, (await _login(client))["mfa_token"], recovery_code=typed)
    assert pair.status_code == 200, pair.text
    again = await _second(client, (await _login(client))["mfa_token"], recovery_code=codes[3])
    assert again.status_code == 401
    unknown = await _second(client, (await _login(client))["mfa_token"], recovery_code="aaaa-bbbb")
    assert unknown.status_code == 401
    status = await client.get("/api/users/me/2fa", headers=headers)
    assert status.json() == {"totp_enabled": True, "recovery_codes_left": 9}
    [notice] = [m for m in smtp.messages if m["Subject"] == "A recovery code was used to log in"]
    assert "9 recovery codes left" in parts(notice)["text/plain"]


async def test_turning_it_off_needs_the_password_and_a_code(
    app: Harness, clock: Clock, smtp: SmtpServer
) -> None:
    client = app.client
    headers = await _user(app)
    off = await client.request(
        "DELETE",
        "/api/users/me/2fa/totp",
        json={"password": PASSWORD, "code": "123456"},
        headers=headers,
    )
    assert off.status_code == 409
    assert off.json()["code"] == "TOTP_NOT_ENABLED"
    authenticator, codes = await _enrol(client, headers, clock)
    clock.tick()
    code = authenticator.at(clock.now)
    for body, status, error in (
        ({"password": "not it at all", "code": code}, 401, "INVALID_CREDENTIALS"),
        (
            {"password": PASSWORD, "code": "000000" if code != "000000" else "111111"},
            401,
            "INVALID_MFA_CODE",
        ),
        ({"password": PASSWORD}, 422, None),
    ):
        refused = await client.request(
            "DELETE", "/api/users/me/2fa/totp", json=body, headers=headers
        )
        assert refused.status_code == status, refused.text
        if error:
            assert refused.json()["code"] == error
    done = await client.request(
        "DELETE",
        "/api/users/me/2fa/totp",
        json={"password": PASSWORD, "code": code},
        headers=headers,
    )
    assert done.status_code == 204
    assert "access_token" in await _login(client)
    async with make_session_factory(app.kit.engine)() as session:
        assert list(await session.scalars(select(RecoveryCode.code_hash))) == []
    assert [m["Subject"] for m in smtp.messages][-1] == "Two-factor authentication is off"
    # On again, and off with a recovery code (the phone is lost).
    _, codes = await _enrol(client, headers, clock)
    lost = await client.request(
        "DELETE",
        "/api/users/me/2fa/totp",
        json={"password": PASSWORD, "recovery_code": codes[0]},
        headers=headers,
    )
    assert lost.status_code == 204


async def test_a_password_change_voids_a_pending_second_step(app: Harness, clock: Clock) -> None:
    client = app.client
    headers = await _user(app)
    authenticator, _ = await _enrol(client, headers, clock)
    challenge = await _login(client)
    changed = await client.post(
        "/api/auth/password-change",
        json={"current_password": PASSWORD, "new_password": "another long password"},
        headers=headers,
    )
    assert changed.status_code == 204
    clock.tick()
    late = await _second(client, challenge["mfa_token"], code=authenticator.at(clock.now))
    assert late.status_code == 401
    assert late.json()["code"] == "INVALID_TOKEN"


async def test_second_factor_attempts_are_limited_per_user(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_url,
        tmp_path,
        rate_limit_enabled=True,
        rate_limit_mfa="3/minute",
        rate_limit_auth="100/minute",
    )
    async with RunningApp(settings) as running:
        clock = Clock()
        running.kit.now = clock
        client = running.client
        await signup(client, EMAIL)
        headers = _bearer(await _login(client))
        authenticator, _ = await _enrol(client, headers, clock)  # the confirmation: 1 of 3
        clock.tick()
        token = (await _login(client))["mfa_token"]
        wrong = "000000" if authenticator.at(clock.now) != "000000" else "111111"
        for _ in range(2):  # 2 and 3 of 3
            assert (await _second(client, token, code=wrong)).status_code == 401
        # The right code, but over the limit: refused before it is checked.
        limited = await _second(client, token, code=authenticator.at(clock.now))
        assert limited.status_code == 429
        assert limited.json()["code"] == "RATE_LIMITED"


async def test_two_factor_in_a_host_app_under_its_own_prefix(
    database_url: str, tmp_path: Path
) -> None:
    async with embedded_user(database_url, tmp_path, EMAIL) as (client, headers):
        clock = Clock()
        # The embedded kit runs on the real clock: codes from the app's clock are good.
        clock.now = datetime.now(UTC)
        authenticator, codes = await _enrol(client, headers, clock, url=API)
        challenge = await _login(client, url=API)
        assert challenge["mfa_required"] is True
        pair = await _second(client, challenge["mfa_token"], url=API, recovery_code=codes[0])
        assert pair.status_code == 200
        assert pair.headers["x-host-middleware"] == "yes"
        status = await client.get(f"{API}/users/me/2fa", headers=_bearer(pair.json()))
        assert status.json()["recovery_codes_left"] == 9
        assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", codes[1])
        # And with the app's code of now, on the next step (the enrolment spent this one).
        clock.tick()
        challenge = await _login(client, url=API)
        second = await _second(
            client, challenge["mfa_token"], url=API, code=authenticator.at(clock.now)
        )
        assert second.status_code == 200, second.text
