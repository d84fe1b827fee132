"""Request and response bodies of the account routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

NormalizedEmail = Annotated[EmailStr, AfterValidator(str.lower)]
Password = Annotated[
    str,
    StringConstraints(min_length=8, max_length=128),
    Field(description="8 to 128 characters.", examples=["correct horse battery"]),
]


class UserCreate(BaseModel):
    """Signup body."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "s3cret-pass"}]}
    )

    email: NormalizedEmail
    password: Password


class LoginRequest(BaseModel):
    """Login body as JSON; the OAuth2 form (`username`, `password`) is accepted too."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "s3cret-pass"}]}
    )

    email: NormalizedEmail
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class RefreshRequest(BaseModel):
    """Body of refresh and logout."""

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class PasswordConfirm(BaseModel):
    """Body of account deletion: the current password, to confirm."""

    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class EmailRequest(BaseModel):
    """Body of verification resend and password reset requests."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: NormalizedEmail


class PasswordResetConfirm(BaseModel):
    """Body of the password reset confirmation."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    new_password: Password


class PasswordChange(BaseModel):
    """Body of a password change by a logged-in user."""

    current_password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    new_password: Password


class Accepted(BaseModel):
    """Reply of the requests that never reveal whether an account exists."""

    detail: str


class TokenPair(BaseModel):
    """A fresh access token and the refresh token that can renew it."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class UserRead(BaseModel):
    """An account as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    is_verified: bool
    avatar_url: str | None
    created_at: datetime


class AuthenticatedUser(UserRead):
    """The current user as cached: the public fields plus what token checks need."""

    token_version: int
