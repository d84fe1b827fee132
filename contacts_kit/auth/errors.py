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
