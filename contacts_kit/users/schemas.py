"""Bodies of the account routes, and the current user as the other routes see it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import UploadFile
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from contacts_kit.fields import normal_email


def _mailable(address: str) -> str:
    # The kit's SMTP path (fastapi-mail) writes the address as pydantic normalises it, with a
    # domain in Unicode, which a server without SMTPUTF8 refuses: such an account could never
    # verify or reset. Refused until the mail can reach it.
    if not address.isascii():
        raise ValueError(
            "an address with characters outside ASCII (an internationalised domain included) "
            "cannot receive the kit's mail yet: use an ASCII address"
        )
    return address


NormalizedEmail = Annotated[EmailStr, AfterValidator(normal_email)]
MailableEmail = Annotated[NormalizedEmail, AfterValidator(_mailable)]
"""The address of a new account: one the kit's mail can reach."""


def _not_blank(password: str) -> str:
    if not password.strip():
        raise ValueError("a password of only blanks is no password: use other characters too")
    return password


Password = Annotated[
    str,
    StringConstraints(min_length=8, max_length=128),
    AfterValidator(_not_blank),
    Field(
        description="8 to 128 characters, not only blanks. Compared in Unicode NFKC, so the "
        "same characters typed on another keyboard (composed or not) are the same password.",
        examples=["correct horse battery"],
    ),
]
CurrentPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class UserRead(BaseModel):
    """An account as the API shows it (never the password hash)."""

    __qualname__ = "ContactsKitUserRead"  # its OpenAPI name: never a host's

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    is_verified: bool
    avatar_url: str | None
    created_at: datetime


class AuthenticatedUser(UserRead):
    """The current user, as the `current_user` dependency gives it to a route: the public
    fields plus the token version that access tokens must carry. A dependency override of
    the current user returns one of these."""

    token_version: int
    read_with: dict[str, str | None] = Field(default_factory=dict, exclude=True, repr=False)
    """Cache entries read in the same round trip as the user, by key: what the composition
    root asked the accounts to read along (`Authenticator(also=...)`), for another module;
    the accounts do not know what they mean."""


class PasswordConfirm(BaseModel):
    """Body of account deletion: the current password, to confirm."""

    __qualname__ = "ContactsKitPasswordConfirm"  # its OpenAPI name: never a host's

    password: CurrentPassword


class AvatarUpload(BaseModel):
    """Body of the avatar upload (multipart): one image file."""

    __qualname__ = "ContactsKitAvatarUpload"  # its OpenAPI name: never a host's

    file: UploadFile = Field(
        description="PNG, JPEG, WebP or GIF image.", json_schema_extra={"format": "binary"}
    )
