"""The benchmark scenarios, and the wrk Lua scripts that replay them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from bench.seed import LOGIN_EMAIL, LOGIN_PASSWORD, Seeded
from contacts_kit.auth.tokens import TokenCodec, TokenType

SEARCH_QUERY = "hopper1"  # Hopper1, Hopper10..Hopper19: about 0.7% of a book


@dataclass(frozen=True)
class Scenario:
    """One kind of request, repeated by wrk."""

    name: str
    method: str
    path: str
    token: str | None = None
    body: str | None = None
    unique_email: bool = False  # POST bodies get a new email per request
    read: bool = True  # read scenarios are compared with the floor

    def lua(self, nonce: str = "") -> str:
        """A wrk script sending this request; unique emails come from a per-run `nonce`, the
        thread number and a per-thread counter."""
        headers = ['wrk.headers["Content-Type"] = "application/json"']
        if self.token:
            headers.append(f'wrk.headers["Authorization"] = "Bearer {self.token}"')
        lines = [f'wrk.method = "{self.method}"', *headers]
        if self.unique_email and self.body:
            prefix, suffix = self.body.split("@@EMAIL@@")
            lines += [
                "local counter = 0",
                "local thread_id = 0",
                "local threads = 0",
                "function setup(thread) threads = threads + 1; thread:set('tid', threads) end",
                "function init(args) thread_id = tid end",
                "function request()",
                "  counter = counter + 1",
                f"  local email = 'bench-{nonce}-' .. thread_id .. '-' .. counter"
                " .. '@example.com'",
                f"  local body = {json.dumps(prefix)} .. email .. {json.dumps(suffix)}",
                f"  return wrk.format(nil, {json.dumps(self.path)}, nil, body)",
                "end",
            ]
        else:
            lines.append(f"wrk.path = {json.dumps(self.path)}")
            if self.body:
                lines.append(f"wrk.body = {json.dumps(self.body)}")
        return "\n".join(lines) + "\n"


def token_for(codec: TokenCodec, user_id: str) -> str:
    """A long-lived access token for a seeded user (token version 0)."""
    token, _ = codec.encode(user_id, TokenType.ACCESS, timedelta(days=1), ver=0)
    return token


def scenarios(seeded: Seeded, codec: TokenCodec) -> list[Scenario]:
    """The six scenarios of the benchmark, on the seeded data."""
    big = token_for(codec, str(seeded.big_user))
    small = token_for(codec, str(seeded.small_user))
    contact = json.dumps(
        {
            "first_name": "Bench",
            "last_name": "Mark",
            "email": "@@EMAIL@@",
            "phone": "+12025550143",
            "birthday": "1990-01-01",
        }
    )
    return [
        Scenario("list first page", "GET", "/api/contacts", big),
        Scenario("q search (100k book)", "GET", f"/api/contacts?q={SEARCH_QUERY}", big),
        Scenario("birthdays, 7 days (100k book)", "GET", "/api/contacts/birthdays?days=7", big),
        Scenario("get by id", "GET", f"/api/contacts/{seeded.sample_contact_big}", big),
        Scenario("create", "POST", "/api/contacts", small, contact, unique_email=True, read=False),
        Scenario(
            "login (argon2)",
            "POST",
            "/api/auth/login",
            None,
            json.dumps({"email": LOGIN_EMAIL, "password": LOGIN_PASSWORD}),
            read=False,
        ),
    ]
