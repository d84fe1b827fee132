"""Errors of accounts and their avatars."""

from __future__ import annotations

from contacts_kit.errors import ContactsKitError, ErrorCode


class EmailAlreadyRegistered(ContactsKitError):
    """Signup with an email that already has an account."""

    code = ErrorCode.EMAIL_ALREADY_REGISTERED
    message = "An account with this email already exists."


class InvalidCredentials(ContactsKitError):
    """Wrong email or password."""

    code = ErrorCode.INVALID_CREDENTIALS
    message = "Incorrect email or password."


class AccountGone(ContactsKitError):
    """The account of a valid token was deleted meanwhile."""

    code = ErrorCode.INVALID_TOKEN
    message = "The account of this token no longer exists."


class UnsupportedImage(ContactsKitError):
    """An upload that is not a PNG, JPEG, WebP or GIF image."""

    code = ErrorCode.UNSUPPORTED_IMAGE
    message = "The file is not a PNG, JPEG, WebP or GIF image."


class FileTooLarge(ContactsKitError):
    """An upload over the size limit."""

    code = ErrorCode.FILE_TOO_LARGE
    message = "The file is larger than allowed."


class StorageFailed(ContactsKitError):
    """The storage backend (Cloudinary, disk) refused or failed to keep the file."""

    code = ErrorCode.STORAGE_FAILED
    message = "The avatar could not be stored; the previous one is kept. Try again later."
