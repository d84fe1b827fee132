"""The password reset form as people use it: the mailed link opened in a real browser
(Debian's Chromium, driven by playwright), a new password typed and submitted."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from tests.conftest import PASSWORD
from tests.server import clean_env, serving
from tests.smtp import SmtpServer, parts

NEW_PASSWORD = "typed in the browser"


def _mailed_link(smtp: SmtpServer) -> str:
    text = parts(smtp.messages[-1])["text/plain"]
    found = re.search(r"(http://\S+/auth/password-reset/confirm\?token=\S+)", text)
    assert found, text
    return found.group(1)


async def test_the_reset_form_in_a_browser(
    browser: object, smtp: SmtpServer, tmp_path: Path
) -> None:
    from playwright.async_api import Browser, expect

    assert isinstance(browser, Browser)
    mail = {f"CONTACTS_KIT_{key.upper()}": str(value) for key, value in smtp.settings().items()}
    env = clean_env(CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL="false", **mail)
    with serving(tmp_path, env=env) as base:
        http = httpx.AsyncClient(base_url=base)
        account = {"email": "browser@example.com", "password": PASSWORD}
        assert (await http.post("/api/auth/signup", json=account)).status_code == 201
        asked = await http.post("/api/auth/password-reset", json={"email": account["email"]})
        assert asked.status_code == 202
        for _ in range(50):
            if any(m["Subject"] == "Reset your password" for m in smtp.messages):
                break
            await asyncio.sleep(0.1)
        link = _mailed_link(smtp)
        assert link.startswith(f"{base}/api/auth/password-reset/confirm?token=")

        page = await browser.new_page()
        await page.goto(link)
        await page.fill("input[name=new_password]", NEW_PASSWORD)
        await page.click("button[type=submit]")
        status = page.locator("#result")
        await status.wait_for()
        # Polled by the driver (a string predicate would be eval'ed, which the page's CSP
        # forbids whenever the first check does not already hold).
        await expect(status).to_have_text(re.compile(r"\S"))
        assert "Your password has been changed" in await status.text_content()  # type: ignore[operator]
        assert await page.locator("form#reset").is_hidden()

        old = await http.post("/api/auth/login", json=account)
        new = await http.post(
            "/api/auth/login", json={"email": account["email"], "password": NEW_PASSWORD}
        )
        assert (old.status_code, new.status_code) == (401, 200)

        # The same link again: the form shows why it cannot be used.
        spent = await browser.new_page()
        await spent.goto(link)
        await spent.fill("input[name=new_password]", "another one typed")
        await spent.click("button[type=submit]")
        await expect(spent.locator("#result")).to_have_text(re.compile(r"\S"))
        message = await spent.locator("#result").text_content()
        assert message is not None
        assert "invalid, expired or already used" in message
        assert await spent.locator("form#reset").is_visible()
        await http.aclose()


def test_the_reset_form_posts_to_its_own_host_whatever_the_host_header(
    tmp_path: Path,
) -> None:
    env = clean_env()
    with serving(tmp_path, env=env) as base:
        form = httpx.get(
            f"{base}/api/auth/password-reset/confirm",
            params={"token": "t"},
            headers={"Host": "evil.example"},
        )
    assert form.status_code == 200
    assert "evil.example" not in form.text
    assert 'fetch("/api/auth/password-reset/confirm"' in form.text
