"""Request and response bodies of the sign-in routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contacts_kit.users.schemas import CurrentPassword, NormalizedEmail, Password

Token = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class UserCreate(BaseModel):
    """Signup body."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "s3cret-pass"}]}
    )

    email: NormalizedEmail
    password: Password


class LoginRequest(BaseModel):
    """Login body."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "s3cret-pass"}]}
    )

    email: NormalizedEmail
    password: CurrentPassword


class TokenForm(BaseModel):
    """The OAuth2 password form (RFC 6749, 4.3): the email as `username`."""

    grant_type: Literal["password"] | None = None
    username: NormalizedEmail = Field(description="The account's email.")
    password: CurrentPassword


class RefreshRequest(BaseModel):
    """Body of refresh and logout."""

    refresh_token: Token


class EmailRequest(BaseModel):
    """Body of verification resend and password reset requests."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: NormalizedEmail


class PasswordResetConfirm(BaseModel):
    """Body of the password reset confirmation."""

    token: Token
    new_password: Password


class PasswordChange(BaseModel):
    """Body of a password change by a logged-in user."""

    current_password: CurrentPassword
    new_password: Password


class Accepted(BaseModel):
    """Reply of the requests that never reveal whether an account exists."""

    detail: str


class TokenPair(BaseModel):
    """A fresh access token and the refresh token that can renew it."""

    # `token_type` is always in the body: the response schema says it is required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class SessionRead(BaseModel):
    """One live login session: a login and the refreshes that followed it."""

    id: uuid.UUID = Field(description="Ends the session: `DELETE /users/me/sessions/{id}`.")
    created_at: datetime = Field(description="When the session logged in.")
    last_used_at: datetime = Field(
        description="When the session last logged in or refreshed its tokens. Requests made "
        "with an access token are not recorded: they cost no SQL."
    )
    user_agent: str | None = Field(description="The client's `User-Agent`, when it sent one.")
    client_address: str | None = Field(
        description="The client's network, coarse on purpose: a /24 for IPv4, a /48 for IPv6."
    )
    current: bool = Field(description="True for the session of the access token that asked.")
