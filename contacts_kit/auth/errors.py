"""Errors of signing up, logging in and the tokens."""

from __future__ import annotations

from contacts_kit.errors import ContactsKitError, ErrorCode


class InvalidToken(ContactsKitError):
    """A token that is missing, malformed, expired, revoked or of the wrong type."""

    code = ErrorCode.INVALID_TOKEN
    message = "The token is invalid, expired or revoked."


class NotAuthenticated(ContactsKitError):
    """No bearer token on a route that needs one."""

    code = ErrorCode.NOT_AUTHENTICATED
    message = "Not authenticated: send an access token as `Authorization: Bearer <token>`."


class EmailNotVerified(ContactsKitError):
    """Login refused until the email address is verified."""

    code = ErrorCode.EMAIL_NOT_VERIFIED
    message = "Verify your email address first: open the link we sent you, or ask for a new one."


class InvalidVerificationToken(ContactsKitError):
    """A verification link that is malformed, expired or not for this account."""

    code = ErrorCode.INVALID_VERIFICATION_TOKEN
    message = "This verification link is invalid or has expired; ask for a new one."


class InvalidResetToken(ContactsKitError):
    """A password reset link that is malformed, expired or already used."""

    code = ErrorCode.INVALID_RESET_TOKEN
    message = "This password reset link is invalid, expired or already used; ask for a new one."


class SessionNotFound(ContactsKitError):
    """No live session (refresh family) with this id belongs to the caller."""

    code = ErrorCode.SESSION_NOT_FOUND
    message = "Session not found, or already ended."


class MfaRequired(ContactsKitError):
    """A password login of an account with two-factor authentication on a route that cannot
    ask for the second factor."""

    code = ErrorCode.MFA_REQUIRED
    message = (
        "This account uses two-factor authentication: log in with POST /auth/login, then send "
        "a code to POST /auth/login/2fa."
    )


class InvalidMfaCode(ContactsKitError):
    """A second-factor code that is wrong, expired or used already."""

    code = ErrorCode.INVALID_MFA_CODE
    message = "This code is wrong, expired or already used."


class TotpAlreadyEnabled(ContactsKitError):
    """Enrolment while a TOTP factor is on."""

    code = ErrorCode.TOTP_ALREADY_ENABLED
    message = "Two-factor authentication is already on; turn it off first."


class TotpNotStarted(ContactsKitError):
    """A confirmation with no pending enrolment."""

    code = ErrorCode.TOTP_NOT_STARTED
    message = "Start the enrolment first (POST /users/me/2fa/totp)."


class TotpNotEnabled(ContactsKitError):
    """Turning off a factor that is not on."""

    code = ErrorCode.TOTP_NOT_ENABLED
    message = "Two-factor authentication is not on."


class ProviderNotFound(ContactsKitError):
    """No identity provider of this name is configured."""

    code = ErrorCode.OAUTH_PROVIDER_NOT_FOUND
    message = "No identity provider of this name is configured."


class RedirectNotAllowed(ContactsKitError):
    """A `redirect_to` outside `CONTACTS_KIT_OAUTH_REDIRECT_ALLOWLIST`."""

    code = ErrorCode.OAUTH_REDIRECT_NOT_ALLOWED
    message = "`redirect_to` is not on the allow-list of this service."


class OAuthFlowInvalid(ContactsKitError):
    """A callback without the cookie of a sign-in started in this browser, or too late."""

    code = ErrorCode.OAUTH_FLOW_INVALID
    message = (
        "This sign-in did not start in this browser, or took too long: start it again from "
        "the application."
    )


class InvalidOAuthCode(ContactsKitError):
    """A sign-in code that is unknown, expired or spent."""

    code = ErrorCode.INVALID_OAUTH_CODE
    message = "This sign-in code is invalid, expired or already used: sign in again."


class IdentityNotFound(ContactsKitError):
    """No linked identity with this id belongs to the caller."""

    code = ErrorCode.IDENTITY_NOT_FOUND
    message = "No linked identity with this id."


class LastLoginMethod(ContactsKitError):
    """Unlinking the only way the user can sign in."""

    code = ErrorCode.LAST_LOGIN_METHOD
    message = (
        "This is the only way you can sign in: set a password (through the password reset "
        "email) or link another provider first."
    )


class ProviderAlreadyLinked(ContactsKitError):
    """Linking a provider the user has an identity of already."""

    code = ErrorCode.PROVIDER_ALREADY_LINKED
    message = "An account of this provider is linked already: unlink it first."


class ProviderUnavailable(ContactsKitError):
    """The identity provider did not answer (its discovery document, say)."""

    code = ErrorCode.OAUTH_PROVIDER_UNAVAILABLE
    message = "The identity provider cannot be reached; try again later."
