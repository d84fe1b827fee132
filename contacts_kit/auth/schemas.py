"""Request and response bodies of the sign-in routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contacts_kit.fields import not_null
from contacts_kit.users.schemas import CurrentPassword, MailableEmail, NormalizedEmail, Password

Token = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class UserCreate(BaseModel):
    """Signup body."""

    __qualname__ = "ContactsKitUserCreate"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "s3cret-pass"}]}
    )

    email: MailableEmail
    password: Password


class LoginRequest(BaseModel):
    """Login body."""

    __qualname__ = "ContactsKitLoginRequest"  # its OpenAPI name: never a host's

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "ada@example.com", "password": "s3cret-pass"}]}
    )

    email: NormalizedEmail
    password: CurrentPassword


class TokenForm(BaseModel):
    """The OAuth2 password form (RFC 6749, 4.3): the email as `username`."""

    __qualname__ = "ContactsKitTokenForm"  # its OpenAPI name: never a host's

    grant_type: Literal["password"] | None = None
    username: NormalizedEmail = Field(description="The account's email.")
    password: CurrentPassword


class RefreshRequest(BaseModel):
    """Body of refresh and logout."""

    __qualname__ = "ContactsKitRefreshRequest"  # its OpenAPI name: never a host's

    refresh_token: Token


class EmailRequest(BaseModel):
    """Body of verification resend and password reset requests."""

    __qualname__ = "ContactsKitEmailRequest"  # its OpenAPI name: never a host's

    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ada@example.com"}]})

    email: NormalizedEmail


class PasswordResetConfirm(BaseModel):
    """Body of the password reset confirmation."""

    __qualname__ = "ContactsKitPasswordResetConfirm"  # its OpenAPI name: never a host's

    token: Token
    new_password: Password


class PasswordChange(BaseModel):
    """Body of a password change by a logged-in user."""

    __qualname__ = "ContactsKitPasswordChange"  # its OpenAPI name: never a host's

    current_password: CurrentPassword
    new_password: Password


class Accepted(BaseModel):
    """Reply of the requests that never reveal whether an account exists."""

    __qualname__ = "ContactsKitAccepted"  # its OpenAPI name: never a host's

    detail: str


class TokenPair(BaseModel):
    """A fresh access token and the refresh token that can renew it."""

    __qualname__ = "ContactsKitTokenPair"  # its OpenAPI name: never a host's

    # `token_type` is always in the body: the response schema says it is required.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"


class SessionRead(BaseModel):
    """One live login session: a login and the refreshes that followed it."""

    __qualname__ = "ContactsKitSessionRead"  # its OpenAPI name: never a host's

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


TotpCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^\d{6}$"),
    Field(description="The 6 digits the authenticator app shows now.", examples=["123456"]),
]
RecoveryCodeText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
    Field(description="One of the recovery codes, with or without its dashes."),
]


class MfaChallenge(BaseModel):
    """The answer of a correct password when the account has two-factor authentication: send
    `mfa_token` with a code to `POST /auth/login/2fa`."""

    __qualname__ = "ContactsKitMfaChallenge"  # its OpenAPI name: never a host's

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    mfa_required: Literal[True] = True
    mfa_token: str = Field(description="Good for the second step of this login only, briefly.")


class _OneCode(BaseModel):
    """An authenticator code or a recovery code, exactly one of them."""

    # Exactly one: not both, and not neither (`_one_code`). Said with `not` rather than a
    # top-level `oneOf`, which client generators turn into anonymous types.
    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "anyOf": [
                    {"required": ["code", "recovery_code"]},
                    {"not": {"anyOf": [{"required": ["code"]}, {"required": ["recovery_code"]}]}},
                ]
            }
        }
    )

    code: TotpCode | None = Field(None, json_schema_extra=not_null)
    recovery_code: RecoveryCodeText | None = Field(None, json_schema_extra=not_null)

    @model_validator(mode="after")
    def _one_code(self) -> Self:
        if (self.code is None) == (self.recovery_code is None):
            raise ValueError("send either code or recovery_code")
        return self


class SecondFactor(_OneCode):
    """The second step of a login: the `mfa_token` and a code, or a recovery code."""

    __qualname__ = "ContactsKitSecondFactor"  # its OpenAPI name: never a host's

    mfa_token: Token


class TotpEnrolment(BaseModel):
    """A new authenticator to add to an app: scan `qr_svg` or type `secret`, then confirm
    with a code (`POST /users/me/2fa/totp/confirm`)."""

    __qualname__ = "ContactsKitTotpEnrolment"  # its OpenAPI name: never a host's

    secret: str = Field(description="The shared secret, base32, for apps that cannot scan.")
    otpauth_uri: str = Field(description="The `otpauth://totp/...` URI the QR code holds.")
    qr_svg: str = Field(description="The QR code of `otpauth_uri`, an SVG document.")


class TotpConfirm(BaseModel):
    """A first code from the authenticator, proving it works."""

    __qualname__ = "ContactsKitTotpConfirm"  # its OpenAPI name: never a host's

    code: TotpCode


class TwoFactorEnabled(BaseModel):
    """Two-factor authentication is on. `recovery_codes` log in when the authenticator is
    lost, each once; they are shown only now: store them somewhere safe."""

    __qualname__ = "ContactsKitTwoFactorEnabled"  # its OpenAPI name: never a host's

    recovery_codes: list[str]


class TotpDisable(_OneCode):
    """Turning two-factor authentication off: the password and a code, or a recovery code."""

    __qualname__ = "ContactsKitTotpDisable"  # its OpenAPI name: never a host's

    password: CurrentPassword


class TwoFactorStatus(BaseModel):
    """Whether two-factor authentication is on, and the recovery codes left."""

    __qualname__ = "ContactsKitTwoFactorStatus"  # its OpenAPI name: never a host's

    totp_enabled: bool
    recovery_codes_left: int


class IdentityRead(BaseModel):
    """A provider account linked to yours: signing in with it signs you in."""

    __qualname__ = "ContactsKitIdentityRead"  # its OpenAPI name: never a host's

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID = Field(description="Unlinks it: `DELETE /users/me/identities/{id}`.")
    provider: str = Field(description="The provider's name in this service's settings.")
    email: str | None = Field(description="The email the provider gave at the last sign-in.")
    created_at: datetime = Field(description="When it was linked.")
    last_login_at: datetime | None = Field(description="The last sign-in with it.")


class OAuthCodeExchange(BaseModel):
    """The one-time code a provider sign-in appended to `redirect_to`."""

    __qualname__ = "ContactsKitOAuthCodeExchange"  # its OpenAPI name: never a host's

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=200)


class LinkRequest(BaseModel):
    """Where the browser comes back to once the provider account is linked."""

    __qualname__ = "ContactsKitLinkRequest"  # its OpenAPI name: never a host's

    model_config = ConfigDict(extra="forbid")

    redirect_to: str = Field(min_length=1, max_length=2000)


class LinkStart(BaseModel):
    """Open this URL in the browser (a top-level navigation): it signs in with the provider
    and links the account, then returns to `redirect_to`."""

    __qualname__ = "ContactsKitLinkStart"  # its OpenAPI name: never a host's

    authorize_url: str
