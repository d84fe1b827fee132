"""`kit.current_user`: the dependency that turns a bearer token into the current user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi.security import OAuth2PasswordBearer
from starlette.requests import Request

from contacts_kit.auth.schemas import AuthenticatedUser
from contacts_kit.errors import NotAuthenticated

if TYPE_CHECKING:
    from contacts_kit.app import ContactsKit

SCHEME_NAME = "OAuth2PasswordBearer"


class CurrentUser(OAuth2PasswordBearer):
    """Dependency: the user of the request's bearer token, or 401 with `WWW-Authenticate`.

    It is itself the OAuth2 password-bearer scheme, so FastAPI documents the routes that
    depend on it as secured (and Swagger UI's login form works) without a second dependency
    to solve on every request. Host apps override it like any dependency:
    `app.dependency_overrides[kit.current_user] = ...`.
    """

    def __init__(self, kit: ContactsKit, token_url: str) -> None:
        super().__init__(tokenUrl=token_url, scheme_name=SCHEME_NAME, auto_error=False)
        self.kit = kit

    async def __call__(self, request: Request) -> AuthenticatedUser:  # type: ignore[override]
        """The authenticated user; per-user rate limits key on the id it leaves on the request."""
        from contacts_kit.auth.service import authenticate

        token = await super().__call__(request)
        if not token:
            raise NotAuthenticated()
        user = await authenticate(self.kit, token)
        request.state.contacts_kit_user_id = user.id
        return user
