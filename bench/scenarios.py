"""The benchmark scenarios, and the wrk Lua scripts that replay them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

from bench.seed import CHANGES_BEHIND, LOGIN_EMAIL, LOGIN_PASSWORD, TAG, Seeded
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
    one_connection: bool = False  # also measured at 1 connection (latency alone)
    connections: int | None = None  # instead of the run's: a load one user can make
    random_ids: tuple[int, int] | None = None  # GET `path` + a random id of this range
    write_every: int = 0  # a PATCH of `write_path` with `body` after this many reads
    write_path: str | None = None

    def lua(self, nonce: str = "") -> str:
        """A wrk script sending this request; unique emails come from a per-run `nonce`, the
        thread number and a per-thread counter."""
        headers = ['wrk.headers["Content-Type"] = "application/json"']
        if self.token:
            headers.append(f'wrk.headers["Authorization"] = "Bearer {self.token}"')
        lines = [f'wrk.method = "{self.method}"', *headers]
        if self.random_ids is not None:
            low, high = self.random_ids
            lines += [
                "local threads = 0",
                "function setup(thread) threads = threads + 1; thread:set('tid', threads) end",
                "function init(args) math.randomseed(os.time() * 100 + tid) end",
                "function request()",
                f"  return wrk.format(nil, {json.dumps(self.path)} .. math.random({low}, {high}))",
                "end",
            ]
        elif self.write_every:
            lines += [
                "local count = 0",
                f"local body = {json.dumps(self.body)}",
                "function request()",
                "  count = count + 1",
                f"  if count % {self.write_every + 1} == 0 then",
                f"    return wrk.format('PATCH', {json.dumps(self.write_path)}, nil, body)",
                "  end",
                f"  return wrk.format('GET', {json.dumps(self.path)})",
                "end",
            ]
        elif self.unique_email and self.body:
            # Each @@EMAIL@@ of the body (a batch has a hundred) becomes an email of its own.
            lines += [
                "local counter = 0",
                "local thread_id = 0",
                "local threads = 0",
                f"local template = {json.dumps(self.body)}",
                "function setup(thread) threads = threads + 1; thread:set('tid', threads) end",
                "function init(args) thread_id = tid end",
                "function request()",
                "  counter = counter + 1",
                "  local n = 0",
                "  local body = string.gsub(template, '@@EMAIL@@', function()",
                "    n = n + 1",
                f"    return 'bench-{nonce}-' .. thread_id .. '-' .. counter .. '-' .. n"
                " .. '@example.com'",
                "  end)",
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
    """The scenarios of the benchmark, on the seeded data: the four reads the floor serves
    too, creation, login, then the sync and organise scenarios (no floor)."""
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
    batch = json.dumps(
        {
            "operations": [
                {"op": "create", "data": {"first_name": "Batch", "email": "@@EMAIL@@"}}
                for _ in range(100)
            ]
        }
    )
    return [
        Scenario("list first page", "GET", "/api/contacts", big),
        Scenario(
            "q search (100k book)",
            "GET",
            f"/api/contacts?q={SEARCH_QUERY}",
            big,
            one_connection=True,
        ),
        Scenario(
            "birthdays, 7 days (100k book)",
            "GET",
            "/api/contacts/birthdays?days=7",
            big,
            one_connection=True,
        ),
        Scenario("get by id", "GET", f"/api/contacts/{seeded.sample_contact_big}", big),
        Scenario(
            "get random ids of the book (100k book)",
            "GET",
            "/api/contacts/",
            big,
            random_ids=seeded.big_ids,
        ),
        Scenario(
            "list, one write per ten reads",
            "GET",
            "/api/contacts",
            big,
            json.dumps({"notes": "Read after write."}),
            write_every=10,
            write_path=f"/api/contacts/{seeded.sample_contact_big}",
        ),
        Scenario("create", "POST", "/api/contacts", small, contact, unique_email=True, read=False),
        Scenario(
            "login (argon2)",
            "POST",
            "/api/auth/login",
            None,
            json.dumps({"email": LOGIN_EMAIL, "password": LOGIN_PASSWORD}),
            read=False,
        ),
        Scenario(
            f"changes since a token, {CHANGES_BEHIND} changes (100k book)",
            "GET",
            f"/api/contacts/changes?since={seeded.changes_token}&limit={CHANGES_BEHIND}",
            big,
            read=False,
            one_connection=True,
        ),
        Scenario(
            f"list tagged {TAG} (100k book)",
            "GET",
            f"/api/contacts?tag={TAG.lower()}",
            big,
            read=False,
            one_connection=True,
        ),
        # One user's writes commit one after another (the changes feed's counter): 32
        # batches of one user at once would only queue. Two clients of one user, then one.
        Scenario(
            "batch of 100 creates (2 connections)",
            "POST",
            "/api/contacts/batch",
            small,
            batch,
            unique_email=True,
            read=False,
            one_connection=True,
            connections=2,
        ),
    ]
