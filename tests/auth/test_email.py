"""Verification and password reset, with mail delivered to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from contacts_kit import Settings
from contacts_kit.backends.mail_smtp import SmtpMailer, connection_config
from tests.conftest import PASSWORD, Harness, RunningApp, make_settings
from tests.smtp import SmtpServer, parts

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
async def mail_app(database_url: str, tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[Harness]:
    settings = make_settings(database_url, tmp_path, require_verified_email=True, **smtp.settings())
    async with RunningApp(settings) as running:
        yield running


def _link(smtp: SmtpServer, index: int = -1) -> str:
    text = parts(smtp.messages[index])["text/plain"]
    match = re.search(r"http://testserver\S+", text)
    assert match, text
    return match.group(0)


def _token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def _signup(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_signup_email_verify_login(mail_app: Harness, smtp: SmtpServer) -> None:
    client = mail_app.client
    await _signup(client, "Ada@Example.com")
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert [a.addr_spec for a in message["To"].addresses] == ["ada@example.com"]
    assert smtp.inbox.envelopes[0] == ("contacts@example.com", ["ada@example.com"])
    assert message["Subject"] == "Confirm your email address"
    bodies = parts(message)
    link = _link(smtp)
    assert link.startswith("http://testserver/api/auth/verify?token=")
    assert link in bodies["text/plain"]
    assert f'href="{link.replace("&", "&amp;")}"' in bodies["text/html"]

    refused = await _login(client, "ada@example.com")
    assert refused.status_code == 403
    assert refused.json()["code"] == "EMAIL_NOT_VERIFIED"
    assert "verify" in refused.json()["detail"].lower()

    verified = await client.get(link)
    assert verified.status_code == 200
    assert verified.json()["is_verified"] is True
    again = await client.get(link)
    assert again.status_code == 200
    assert (await _login(client, "ada@example.com")).status_code == 200


async def test_unverified_login_is_refused_only_after_the_password(
    mail_app: Harness, smtp: SmtpServer
) -> None:
    await _signup(mail_app.client, "pw@example.com")
    wrong = await _login(mail_app.client, "pw@example.com", "wrong password")
    assert wrong.status_code == 401


async def test_unverified_users_may_log_in_when_the_setting_is_off(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, require_verified_email=False)
    async with RunningApp(settings) as running:
        await _signup(running.client, "free@example.com")
        assert (await _login(running.client, "free@example.com")).status_code == 200


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 500])
async def test_a_bad_verification_token_is_400(mail_app: Harness, token: str) -> None:
    response = await mail_app.client.get("/api/auth/verify", params={"token": token})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_VERIFICATION_TOKEN"


async def test_an_expired_verification_token_is_400(mail_app: Harness, smtp: SmtpServer) -> None:
    await _signup(mail_app.client, "late@example.com")
    link = _link(smtp)
    later = mail_app.kit.now() + mail_app.kit.settings.verify_token_ttl + timedelta(seconds=1)
    mail_app.kit.now = lambda: later
    response = await mail_app.client.get(link)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_VERIFICATION_TOKEN"


async def test_resend_is_202_for_any_email_and_sends_only_when_useful(
    mail_app: Harness, smtp: SmtpServer
) -> None:
    client = mail_app.client
    unknown = await client.post("/api/auth/verify/resend", json={"email": "ghost@example.com"})
    assert unknown.status_code == 202
    assert smtp.messages == []
    await _signup(client, "again@example.com")
    known = await client.post("/api/auth/verify/resend", json={"email": "again@example.com"})
    assert known.status_code == 202
    assert known.json() == unknown.json()
    assert len(smtp.messages) == 2
    assert (await client.get(_link(smtp))).status_code == 200
    await client.post("/api/auth/verify/resend", json={"email": "again@example.com"})
    assert len(smtp.messages) == 2  # already verified: nothing more to send


async def test_password_reset_end_to_end(mail_app: Harness, smtp: SmtpServer) -> None:
    client = mail_app.client
    await _signup(client, "reset@example.com")
    await client.get(_link(smtp))
    old = (await _login(client, "reset@example.com")).json()

    requested = await client.post("/api/auth/password-reset", json={"email": "reset@example.com"})
    assert requested.status_code == 202
    assert smtp.messages[-1]["Subject"] == "Reset your password"
    link = _link(smtp)
    assert link.startswith("http://testserver/api/auth/password-reset/confirm?token=")
    assert link in parts(smtp.messages[-1])["text/plain"]

    form = await client.get(link)
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")
    assert _token(link) in form.text
    assert "/api/auth/password-reset/confirm" in form.text

    confirmed = await client.post(
        "/api/auth/password-reset/confirm",
        json={"token": _token(link), "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 204
    assert (await _login(client, "reset@example.com")).status_code == 401
    assert (await _login(client, "reset@example.com", NEW_PASSWORD)).status_code == 200
    stale_refresh = await client.post(
        "/api/auth/refresh", json={"refresh_token": old["refresh_token"]}
    )
    assert stale_refresh.status_code == 401
    stale_access = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {old['access_token']}"}
    )
    assert stale_access.status_code == 401

    reused = await client.post(
        "/api/auth/password-reset/confirm",
        json={"token": _token(link), "new_password": "yet another passphrase"},
    )
    assert reused.status_code == 400
    assert reused.json()["code"] == "INVALID_RESET_TOKEN"
    assert (await _login(client, "reset@example.com", NEW_PASSWORD)).status_code == 200


async def test_an_expired_reset_token_is_400(mail_app: Harness, smtp: SmtpServer) -> None:
    client = mail_app.client
    await _signup(client, "slow@example.com")
    await client.post("/api/auth/password-reset", json={"email": "slow@example.com"})
    token = _token(_link(smtp))
    later = mail_app.kit.now() + mail_app.kit.settings.reset_token_ttl + timedelta(seconds=1)
    mail_app.kit.now = lambda: later
    response = await client.post(
        "/api/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_RESET_TOKEN"


async def test_tokens_cannot_stand_in_for_each_other(mail_app: Harness, smtp: SmtpServer) -> None:
    client = mail_app.client
    await _signup(client, "types@example.com")
    verify_token = _token(_link(smtp))
    await client.post("/api/auth/password-reset", json={"email": "types@example.com"})
    reset_token = _token(_link(smtp))

    as_reset = await client.post(
        "/api/auth/password-reset/confirm",
        json={"token": verify_token, "new_password": NEW_PASSWORD},
    )
    assert as_reset.status_code == 400
    as_verify = await client.get("/api/auth/verify", params={"token": reset_token})
    assert as_verify.status_code == 400
    for token in (verify_token, reset_token):
        me = await client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
        refresh = await client.post("/api/auth/refresh", json={"refresh_token": token})
        assert refresh.status_code == 401
    assert (await _login(client, "types@example.com")).status_code == 403  # still unverified


async def test_reset_for_an_unknown_email_is_202_and_sends_nothing(
    mail_app: Harness, smtp: SmtpServer
) -> None:
    response = await mail_app.client.post(
        "/api/auth/password-reset", json={"email": "nobody@example.com"}
    )
    assert response.status_code == 202
    assert smtp.messages == []


async def test_password_change_keeps_this_session_and_ends_the_others(
    database_url: str, tmp_path: Path
) -> None:
    async with RunningApp(make_settings(database_url, tmp_path)) as running:
        client = running.client
        await _signup(client, "change@example.com")
        here = (await _login(client, "change@example.com")).json()
        elsewhere = (await _login(client, "change@example.com")).json()
        headers = {"Authorization": f"Bearer {here['access_token']}"}
        wrong = await client.post(
            "/api/auth/password-change",
            json={"current_password": "not it at all", "new_password": NEW_PASSWORD},
            headers=headers,
        )
        assert wrong.status_code == 401
        changed = await client.post(
            "/api/auth/password-change",
            json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
            headers=headers,
        )
        assert changed.status_code == 204
        ended = await client.post(
            "/api/auth/refresh", json={"refresh_token": elsewhere["refresh_token"]}
        )
        assert ended.status_code == 401
        kept = await client.post("/api/auth/refresh", json={"refresh_token": here["refresh_token"]})
        assert kept.status_code == 200
        assert (await _login(client, "change@example.com")).status_code == 401
        assert (await _login(client, "change@example.com", NEW_PASSWORD)).status_code == 200
        unauthenticated = await client.post(
            "/api/auth/password-change",
            json={"current_password": NEW_PASSWORD, "new_password": PASSWORD},
        )
        assert unauthenticated.status_code == 401


async def test_signup_while_smtp_is_down_then_resend(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    smtp = SmtpServer()  # not started yet: nothing listens on its port
    settings = make_settings(database_url, tmp_path, require_verified_email=True, **smtp.settings())
    async with RunningApp(settings) as running:
        client = running.client
        with caplog.at_level(logging.ERROR, logger="contacts_kit.mail"):
            await _signup(client, "down@example.com")
        assert "could not send 'Confirm your email address' to down@example.com" in caplog.text
        smtp.start()
        try:
            response = await client.post(
                "/api/auth/verify/resend", json={"email": "down@example.com"}
            )
            assert response.status_code == 202
            assert len(smtp.messages) == 1
            assert (await client.get(_link(smtp))).status_code == 200
            assert (await _login(client, "down@example.com")).status_code == 200
        finally:
            smtp.stop()


def test_smtp_config_comes_only_from_our_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "MAIL_SERVER": "smtp.host-app.example",
        "MAIL_USERNAME": "host-user",
        "MAIL_PASSWORD": "host-password",
        "MAIL_FROM": "host@example.com",
        "SUPPRESS_SEND": "1",
        "MAIL_DEBUG": "1",
    }.items():
        monkeypatch.setenv(name, value)
    settings = make_settings("sqlite:///x.db", tmp_path, mail_server="mail.ours.example")
    config = connection_config(settings)
    assert config.MAIL_SERVER == "mail.ours.example"
    assert config.MAIL_FROM == "no-reply@example.com"
    assert config.USE_CREDENTIALS is False  # no credentials, no SMTP login
    assert config.SUPPRESS_SEND == 0
    assert config.MAIL_DEBUG == 0
    with_login = make_settings(
        "sqlite:///x.db",
        tmp_path,
        mail_server="mail.ours.example",
        mail_username="me",
        mail_password="pw",
    )
    assert connection_config(with_login).USE_CREDENTIALS is True


def test_the_smtp_mailer_is_chosen_only_with_a_server(tmp_path: Path) -> None:
    from contacts_kit import ContactsKit
    from contacts_kit.backends.mail_console import ConsoleMailer

    assert isinstance(ContactsKit(make_settings("sqlite:///x.db", tmp_path)).mailer, ConsoleMailer)
    with_server = make_settings("sqlite:///x.db", tmp_path, mail_server="127.0.0.1")
    assert isinstance(ContactsKit(with_server).mailer, SmtpMailer)


async def test_templates_can_be_overridden(
    database_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    templates = tmp_path / "templates" / "email"
    templates.mkdir(parents=True)
    (templates / "verify_email.subject.txt").write_text("Welcome aboard, {{ email }}")
    settings: Settings = make_settings(
        database_url, tmp_path, mail_template_dir=tmp_path / "templates", **smtp.settings()
    )
    async with RunningApp(settings) as running:
        await _signup(running.client, "custom@example.com")
        assert smtp.messages[-1]["Subject"] == "Welcome aboard, custom@example.com"
        assert "/api/auth/verify?token=" in parts(smtp.messages[-1])["text/plain"]


@pytest.mark.parametrize(
    "address", ["josé@example.com", "user@exämple.com", "user@xn--exmple-cua.com"]
)
async def test_an_address_the_mail_cannot_reach_is_refused_at_signup(
    mail_app: Harness, smtp: SmtpServer, address: str
) -> None:
    # Such an account signed up (201), then every mail to it failed: it could never verify
    # or reset (issue 29). The xn-- form is the same address, which pydantic turns to Unicode.
    answer = await mail_app.client.post(
        "/api/auth/signup", json={"email": address, "password": PASSWORD}
    )
    assert answer.status_code == 422
    assert "cannot receive the kit's mail yet" in answer.text
    assert smtp.messages == []
