"""A local identity provider that speaks the published protocols, for the sign-in tests.

OpenID Connect (Core 1.0, Discovery 1.0, RFC 7636 PKCE) under `/`: the discovery document,
a JWKS of RS256 keys made with joserfc, an authorize endpoint that consents at once as
`next_user`, a token endpoint (authorization code grant, client authentication by HTTP Basic
or the form, single-use codes bound to their client, redirect URI and PKCE challenge) that
returns a signed ID token, and userinfo.

GitHub's OAuth 2 web flow under `/github`: `login/oauth/authorize`, `login/oauth/access_token`
(JSON when asked with `Accept: application/json`, as GitHub does), and the REST API's `user`
and `user/emails`.

`id_token_fault` makes the next ID tokens wrong in one way: signed by another key, expired,
for another audience, with another nonce, or from another issuer.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.server import ThreadedServer
from tests.smtp import free_port

Fault = Literal["other_key", "expired", "other_audience", "wrong_nonce", "other_issuer"]


@dataclass
class Person:
    """Who signs in at the provider next."""

    subject: str
    email: str | None
    email_verified: bool = True


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    person: Person
    nonce: str | None
    challenge: str | None
    used: bool = False


@dataclass
class IdentityProvider:
    client_id: str = "contacts-kit-test"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    next_user: Person = field(default_factory=lambda: Person("subject-1", "ann@example.com"))
    id_token_fault: Fault | None = None
    # The person declines at the provider's consent page.
    deny: bool = False
    port: int = field(default_factory=free_port)
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "idp-1"}))
    stranger: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "idp-1"}))
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Person] = field(default_factory=dict)
    token_requests: int = 0

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def provider_settings(self, name: str = "idp") -> dict[str, Any]:
        return {
            "name": name,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "server_metadata_url": self.discovery_url,
        }

    def github_settings(self, name: str = "github") -> dict[str, Any]:
        return {
            "name": name,
            "kind": "github",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "authorize_url": f"{self.issuer}/github/login/oauth/authorize",
            "token_url": f"{self.issuer}/github/login/oauth/access_token",
            "api_url": f"{self.issuer}/github/api",
        }

    # OpenID Connect

    async def _discovery(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "userinfo_endpoint": f"{self.issuer}/userinfo",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            }
        )

    async def _jwks(self, request: Request) -> JSONResponse:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    def _consent(self, request: Request, *, oidc: bool) -> Response:
        query = request.query_params
        if query.get("client_id") != self.client_id:
            return JSONResponse({"error": "unauthorized_client"}, status_code=400)
        if query.get("response_type") != "code":
            return JSONResponse({"error": "unsupported_response_type"}, status_code=400)
        if query.get("code_challenge_method", "S256") != "S256" or not query.get("code_challenge"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        if oidc and "openid" not in query.get("scope", "").split():
            return JSONResponse({"error": "invalid_scope"}, status_code=400)
        if self.deny:
            refusal = {"error": "access_denied", "state": query["state"]}
            return RedirectResponse(f"{query['redirect_uri']}?{urlencode(refusal)}", 302)
        code = secrets.token_urlsafe(24)
        self.grants[code] = Grant(
            client_id=self.client_id,
            redirect_uri=query["redirect_uri"],
            person=self.next_user,
            nonce=query.get("nonce"),
            challenge=query.get("code_challenge"),
        )
        target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})
        return RedirectResponse(target, status_code=302)

    async def _authorize(self, request: Request) -> Response:
        return self._consent(request, oidc=True)

    async def _client_of(self, request: Request, form: dict[str, str]) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if client_id == self.client_id and secret == self.client_secret:
            return client_id
        return None

    async def _redeem(self, request: Request) -> tuple[Grant | None, JSONResponse | None]:
        self.token_requests += 1
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        client = await self._client_of(request, form)
        if client is None:
            return None, JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.grants.get(form.get("code", ""))
        if form.get("grant_type") != "authorization_code" or grant is None or grant.used:
            return None, JSONResponse({"error": "invalid_grant"}, status_code=400)
        # A code is good once (RFC 6749, 4.1.2).
        grant.used = True
        if grant.redirect_uri != form.get("redirect_uri") or grant.client_id != client:
            return None, JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if grant.challenge != digest.rstrip(b"=").decode():
            return None, JSONResponse(
                {"error": "invalid_grant", "error_description": "PKCE verification failed"},
                status_code=400,
            )
        return grant, None

    def _id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": grant.person.subject,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": grant.person.email,
            "email_verified": grant.person.email_verified,
        }
        key = self.key
        fault = self.id_token_fault
        if fault == "other_key":
            key = self.stranger
        elif fault == "expired":
            claims |= {"iat": now - 7200, "exp": now - 3600}
        elif fault == "other_audience":
            claims["aud"] = "some-other-client"
        elif fault == "wrong_nonce":
            claims["nonce"] = "not-the-nonce-that-was-sent"
        elif fault == "other_issuer":
            claims["iss"] = "http://evil.example"
        if grant.person.email is None:
            del claims["email"], claims["email_verified"]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    async def _token(self, request: Request) -> JSONResponse:
        grant, error = await self._redeem(request)
        if grant is None:
            assert error is not None
            return error
        access = secrets.token_urlsafe(24)
        self.tokens[access] = grant.person
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._id_token(grant),
            },
            headers={"Cache-Control": "no-store"},
        )

    def _bearer(self, request: Request) -> Person | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        return self.tokens.get(token)

    async def _userinfo(self, request: Request) -> JSONResponse:
        person = self._bearer(request)
        if person is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"sub": person.subject, "email": person.email})

    # GitHub

    async def _github_authorize(self, request: Request) -> Response:
        return self._consent(request, oidc=False)

    async def _github_token(self, request: Request) -> Response:
        grant, error = await self._redeem(request)
        if grant is None:
            assert error is not None
            return error
        access = "gho_" + secrets.token_urlsafe(24)
        self.tokens[access] = grant.person
        body = {"access_token": access, "token_type": "bearer", "scope": "read:user,user:email"}
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(body)
        return Response(urlencode(body), media_type="application/x-www-form-urlencoded")

    async def _github_user(self, request: Request) -> JSONResponse:
        person = self._bearer(request)
        if person is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        return JSONResponse({"id": int(person.subject), "login": "octo", "email": None})

    async def _github_emails(self, request: Request) -> JSONResponse:
        person = self._bearer(request)
        if person is None:
            return JSONResponse({"message": "Requires authentication"}, status_code=401)
        if person.email is None:
            return JSONResponse([])
        return JSONResponse(
            [
                {"email": "noreply@users.github.example", "primary": False, "verified": True},
                {"email": person.email, "primary": True, "verified": person.email_verified},
            ]
        )

    def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/userinfo", self._userinfo),
                Route("/github/login/oauth/authorize", self._github_authorize),
                Route("/github/login/oauth/access_token", self._github_token, methods=["POST"]),
                Route("/github/api/user", self._github_user),
                Route("/github/api/user/emails", self._github_emails),
            ]
        )
        self._server = ThreadedServer(app, self.port, "identity provider")
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
