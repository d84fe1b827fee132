"""The current-user dependency: a bearer token in, the authenticated user out."""

from __future__ import annotations

from fastapi.security import OAuth2PasswordBearer
from starlette.requests import Request

from contacts_kit.auth.errors import InvalidToken, NotAuthenticated
from contacts_kit.auth.service import Authenticator
from contacts_kit.http import KitHTTPException
from contacts_kit.users.schemas import AuthenticatedUser

SCHEME_NAME = "ContactsKitOAuth2"
"""The name of the kit's security scheme in the OpenAPI document: its own, never a host's."""


class CurrentUser(OAuth2PasswordBearer):
    """Dependency: the user of the request's bearer token, or 401 with `WWW-Authenticate`.

    It is itself the OAuth2 password-bearer scheme, so FastAPI documents the routes that
    depend on it as secured (and Swagger UI's login form works) without a second dependency
    to solve on every request. It raises `HTTPException`s, so it protects a host's own routes
    too. Host apps override it like any dependency:
    `app.dependency_overrides[kit.current_user] = lambda: AuthenticatedUser(...)`.
    """

    def __init__(self, authenticator: Authenticator, token_url: str) -> None:
        super().__init__(tokenUrl=token_url, scheme_name=SCHEME_NAME, auto_error=False)
        self.authenticator = authenticator

    async def __call__(self, request: Request) -> AuthenticatedUser:  # type: ignore[override]
        """The authenticated user of the request's bearer token."""
        token = await super().__call__(request)
        if not token:
            raise KitHTTPException(NotAuthenticated())
        try:
            return await self.authenticator.user(token)
        except InvalidToken as error:
            raise KitHTTPException(error) from error
