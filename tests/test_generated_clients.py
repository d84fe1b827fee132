"""Clients generated from the served OpenAPI document, as an integration developer makes them:
a Python client (openapi-python-client), checked with ruff and mypy and walked through the API
against a running server; TypeScript types (openapi-typescript) compiled by `tsc --strict`."""

from __future__ import annotations

import datetime
import importlib
import io
import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scripts import routes_reference
from tests.conftest import PASSWORD
from tests.server import clean_env, serving
from tests.services import services_required
from tests.users.images import png_bytes

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NODE_CACHE = ROOT / ".cache" / "node"
NPM_PACKAGES = ("openapi-typescript@7.13", "typescript@5.9")

pytestmark = pytest.mark.clients


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("served")
    env = clean_env(
        CONTACTS_KIT_REQUIRE_VERIFIED_EMAIL="false",
        CONTACTS_KIT_RATE_LIMIT_CONTACT_CREATE="3/minute",
        CONTACTS_KIT_ACCESS_TOKEN_TTL="3600",
        # The sign-in routes too (nothing is fetched from the provider here).
        CONTACTS_KIT_OAUTH_PROVIDERS=json.dumps([routes_reference.EXAMPLE_PROVIDER]),
        CONTACTS_KIT_OAUTH_REDIRECT_ALLOWLIST=routes_reference.EXAMPLE_REDIRECT,
    )
    with serving(folder, env=env) as base:
        yield base, httpx.get(f"{base}/openapi.json").json()


@pytest.fixture(scope="module")
def python_client(
    server: tuple[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    _, spec = server
    folder = tmp_path_factory.mktemp("python-client")
    (folder / "openapi.json").write_text(json.dumps(spec))
    generated = subprocess.run(
        [
            str(BIN / "openapi-python-client"),
            "generate",
            "--path",
            "openapi.json",
            "--output-path",
            "contacts_kit_client",
            "--meta",
            "none",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        env=clean_env(PATH=f"{BIN}:/usr/bin:/bin"),
        check=False,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # The generator warns about what it had to skip: nothing may be missing.
    assert "Warning" not in generated.stdout, generated.stdout
    package = folder / "contacts_kit_client"
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("contacts_kit_client")
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith("contacts_kit_client")]:
            del sys.modules[name]
    assert package.is_dir()


def test_the_generated_python_client_passes_ruff_and_mypy(python_client: Any) -> None:
    package = Path(python_client.__file__).parent
    ruff = subprocess.run(
        # ruff's default rules (pyflakes, syntax and statement errors); line length and how
        # a discriminated union's variants are told apart (`isinstance(x, A) or
        # isinstance(x, B)`, SIM101) are the generator's choice.
        [str(BIN / "ruff"), "check", "--isolated", "--ignore", "SIM101", str(package)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ruff.returncode == 0, ruff.stdout
    # Everything generated from the document is checked strictly. `client.py` is the
    # generator's fixed template, the same for any API, and its `__exit__(*args)` does not
    # type-check against httpx's current stubs: it is imported, not checked.
    derived = [str(package / name) for name in ("api", "models", "types.py", "errors.py")]
    mypy = subprocess.run(
        [str(BIN / "mypy"), "--strict", "--no-incremental", "--follow-imports=silent", *derived],
        capture_output=True,
        text=True,
        cwd=package.parent,
        check=False,
    )
    assert mypy.returncode == 0, mypy.stdout


def test_the_generated_python_client_walks_the_api(
    server: tuple[str, dict[str, Any]], python_client: Any
) -> None:
    base, _ = server
    from contacts_kit_client import AuthenticatedClient, Client
    from contacts_kit_client.api.auth import auth_login, auth_signup
    from contacts_kit_client.api.contacts import (
        contacts_create,
        contacts_delete,
        contacts_get,
        contacts_list,
        contacts_update,
    )
    from contacts_kit_client.api.users import users_avatar, users_me
    from contacts_kit_client.models import (
        AvatarUpload,
        ContactCreate,
        ContactRead,
        ContactUpdate,
        ErrorBody,
        ErrorCode,
        HTTPValidationError,
        LoginRequest,
        TokenPair,
        UserCreate,
        UserRead,
    )
    from contacts_kit_client.types import File

    with Client(base_url=base) as anonymous:
        account = UserCreate(email="sdk@example.com", password=PASSWORD)
        assert isinstance(auth_signup.sync(client=anonymous, body=account), UserRead)
        pair = auth_login.sync(
            client=anonymous, body=LoginRequest(email="sdk@example.com", password=PASSWORD)
        )
    assert isinstance(pair, TokenPair)
    assert pair.token_type == "bearer"

    def contact(email: str, phone: str = "+1 202 555 0143") -> Any:
        return ContactCreate(
            first_name="Grace",
            last_name="Hopper",
            email=email,
            phone=phone,
            birthday=datetime.date(1906, 12, 9),
        )

    with (
        AuthenticatedClient(base_url=base, token=pair.access_token) as client,
        AuthenticatedClient(base_url=base, token="not.a.token") as stranger,
    ):
        me = users_me.sync(client=client)
        assert isinstance(me, UserRead)
        assert me.email == "sdk@example.com"

        created = contacts_create.sync_detailed(client=client, body=contact("grace@example.com"))
        assert created.status_code == 201
        assert isinstance(created.parsed, ContactRead)
        tag, contact_id = created.headers["etag"], created.parsed.id
        listed = contacts_list.sync(client=client, q="hop")
        assert isinstance(listed, list)
        assert [item.id for item in listed] == [contact_id]
        changed = contacts_update.sync_detailed(
            contact_id, client=client, body=ContactUpdate(notes="Compiler pioneer"), if_match=tag
        )
        assert changed.status_code == 200
        assert isinstance(changed.parsed, ContactRead)
        assert changed.parsed.notes == "Compiler pioneer"

        # Typed errors: 412 (a stale tag), 409, 404, 422, 401, then 429.
        stale = contacts_update.sync_detailed(
            contact_id, client=client, body=ContactUpdate(notes="again"), if_match=tag
        )
        assert stale.status_code == 412
        assert isinstance(stale.parsed, ErrorBody)
        assert stale.parsed.code == ErrorCode.PRECONDITION_FAILED
        duplicate = contacts_create.sync_detailed(client=client, body=contact("grace@example.com"))
        assert duplicate.status_code == 409
        assert isinstance(duplicate.parsed, ErrorBody)
        assert duplicate.parsed.code == ErrorCode.CONTACT_EMAIL_EXISTS
        missing = contacts_get.sync_detailed(contact_id + 1000, client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, ErrorBody)
        invalid = contacts_create.sync_detailed(
            client=client, body=contact("bad@example.com", phone="123")
        )
        assert invalid.status_code == 422
        assert isinstance(invalid.parsed, HTTPValidationError)
        unauthorized = users_me.sync_detailed(client=stranger)
        assert unauthorized.status_code == 401
        assert isinstance(unauthorized.parsed, ErrorBody)
        assert unauthorized.parsed.code == ErrorCode.INVALID_TOKEN
        limited = contacts_create.sync_detailed(client=client, body=contact("many@example.com"))
        assert limited.status_code == 429
        assert isinstance(limited.parsed, ErrorBody)
        assert int(limited.headers["retry-after"]) >= 1

        upload = AvatarUpload(file=File(payload=io.BytesIO(png_bytes()), file_name="me.png"))
        avatar = users_avatar.sync_detailed(client=client, body=upload)
        assert avatar.status_code == 200, avatar.content
        assert isinstance(avatar.parsed, UserRead)
        assert avatar.parsed.avatar_url

        assert contacts_delete.sync_detailed(contact_id, client=client).status_code == 204


def _npm_tools() -> Path:
    if shutil.which("npm") is None:
        if services_required():
            pytest.fail("npm is not installed", pytrace=False)
        pytest.skip("npm is not installed")
    tools = NODE_CACHE / "node_modules" / ".bin"
    if not all((tools / name).exists() for name in ("openapi-typescript", "tsc")):
        NODE_CACHE.mkdir(parents=True, exist_ok=True)
        installed = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(NODE_CACHE),
                *NPM_PACKAGES,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert installed.returncode == 0, installed.stderr[-2000:]
    return tools


USAGE = textwrap.dedent(
    """
    import type { components, paths } from "./api";

    type Contact = components["schemas"]["ContactsKitContactRead"];
    type NewContact = components["schemas"]["ContactsKitContactCreate"];
    type Change = components["schemas"]["ContactsKitContactUpdate"];
    type ErrorBody = components["schemas"]["ContactsKitErrorBody"];
    type Pair = paths["/api/auth/login"]["post"]["responses"]["200"]["content"]["application/json"];
    type ListQuery = NonNullable<paths["/api/contacts"]["get"]["parameters"]["query"]>;
    type Update = paths["/api/contacts/{contact_id}"]["patch"];
    type UpdateHeaders = NonNullable<Update["parameters"]["header"]>;

    const fresh: NewContact = {
      first_name: "Grace",
      last_name: "Hopper",
      email: "grace@example.com",
      phone: "+1 202 555 0143",
      birthday: "1906-12-09",
    };
    const change: Change = { notes: null, phone: "+12025550143" };
    const minimal: NewContact = { first_name: "Solo", phone: "+1 202 555 0143" };
    const cleared: Change = { last_name: null, email: null, birthday: null };
    const starred: NewContact = { ...fresh, favorite: true };
    const query: ListQuery = { q: "hop", limit: 20, favorite: true };
    const headers: UpdateHeaders = { "if-match": '"1-1"' };

    function describe(contact: Contact): string {
      const star: string = contact.favorite ? " *" : "";
      return `${contact.id}: ${contact.first_name} ${contact.last_name} <${contact.email}>${star}`;
    }
    function bearer(pair: Pair): string {
      if ("mfa_required" in pair) {
        return `second factor for ${pair.mfa_token}`;
      }
      const kind: "bearer" = pair.token_type;
      return `${kind} ${pair.access_token}`;
    }
    function explain(error: ErrorBody): string {
      return `${error.code}: ${error.detail}`;
    }
    export { fresh, change, minimal, cleared, starred, query, headers, describe, bearer, explain };
    """
)

# What the schema must refuse: null where the server refuses null, a required field left out.
REFUSED = textwrap.dedent(
    """
    import type { components } from "./api";
    const nulled: components["schemas"]["ContactsKitContactUpdate"] = { first_name: null };
    const partial: components["schemas"]["ContactsKitContactCreate"] = { last_name: "Only" };
    const unstarred: components["schemas"]["ContactsKitContactUpdate"] = { favorite: null };
    export { nulled, partial, unstarred };
    """
)


def test_typescript_types_from_the_document_compile_strictly(
    server: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    tools = _npm_tools()
    _, spec = server
    (tmp_path / "openapi.json").write_text(json.dumps(spec))
    generated = subprocess.run(
        # A property with a default may be left out of a request body: not required.
        [
            str(tools / "openapi-typescript"),
            "openapi.json",
            "-o",
            "api.d.ts",
            "--default-non-nullable",
            "false",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert generated.returncode == 0, generated.stderr
    (tmp_path / "usage.ts").write_text(USAGE)
    (tmp_path / "refused.ts").write_text(REFUSED)
    compile_usage = subprocess.run(
        [str(tools / "tsc"), "--strict", "--noEmit", "--target", "es2020", "usage.ts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compile_usage.returncode == 0, compile_usage.stdout
    compile_refused = subprocess.run(
        [str(tools / "tsc"), "--strict", "--noEmit", "--target", "es2020", "refused.ts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compile_refused.returncode != 0
    # One error per line: two nulls where none is accepted, a missing first name.
    lines = {line.split(",")[0] for line in compile_refused.stdout.splitlines() if "error" in line}
    assert lines == {"refused.ts(3", "refused.ts(4", "refused.ts(5"}, compile_refused.stdout
    assert "first_name" in compile_refused.stdout
