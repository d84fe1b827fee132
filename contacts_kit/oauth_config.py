"""One identity provider's configuration: an item of `Settings.oauth_providers`
(`CONTACTS_KIT_OAUTH_PROVIDERS`, a JSON list), not a setting of its own."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

GITHUB_AUTHORIZE_URL = "https://github.com/login/oauth/authorize"
GITHUB_TOKEN_URL = "https://github.com/login/oauth/access_token"
GITHUB_API_URL = "https://api.github.com"


class OAuthProvider(BaseModel):
    """One identity provider users can sign in with: an OpenID Connect provider found by its
    discovery document, or GitHub (whose OAuth 2 has no ID token)."""

    model_config = {"extra": "forbid"}

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,39}$",
        description="Lower-case name in the routes (`/auth/oauth/{name}/authorize`).",
    )
    kind: Literal["oidc", "github"] = "oidc"
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    server_metadata_url: str | None = Field(
        None, description="OIDC: the discovery document (`.../.well-known/openid-configuration`)."
    )
    scope: str | None = Field(
        None,
        description="Scopes asked for; `openid email profile` (OIDC) or `read:user user:email` "
        "(GitHub) by default.",
    )
    authorize_url: str = Field(GITHUB_AUTHORIZE_URL, description="GitHub: authorize endpoint.")
    token_url: str = Field(GITHUB_TOKEN_URL, description="GitHub: token endpoint.")
    api_url: str = Field(GITHUB_API_URL, description="GitHub: the REST API (`/user`, ...).")

    @model_validator(mode="after")
    def _complete(self) -> OAuthProvider:
        if self.kind == "oidc":
            if not self.server_metadata_url:
                raise ValueError(
                    f"provider {self.name!r}: an OpenID Connect provider needs "
                    "`server_metadata_url` (its .well-known/openid-configuration)"
                )
            if "openid" not in (self.scope or "openid").split():
                raise ValueError(f"provider {self.name!r}: the scope must include `openid`")
        return self

    @property
    def scopes(self) -> str:
        """The scopes asked for."""
        if self.scope:
            return self.scope
        return "openid email profile" if self.kind == "oidc" else "read:user user:email"
