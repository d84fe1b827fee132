"""Errors of the address book."""

from __future__ import annotations

from contacts_kit.errors import ContactsKitError, ErrorCode


class ContactNotFound(ContactsKitError):
    """No contact with this id in the caller's address book."""

    code = ErrorCode.CONTACT_NOT_FOUND
    message = "Contact not found."


class ContactEmailExists(ContactsKitError):
    """Another contact in the same address book has this email."""

    code = ErrorCode.CONTACT_EMAIL_EXISTS
    message = "A contact with this email already exists in your address book."


class PreconditionFailed(ContactsKitError):
    """`If-Match` does not match the current version of the resource."""

    code = ErrorCode.PRECONDITION_FAILED
    message = "The contact was changed by someone else; fetch it again and retry."


class MalformedEntityTags(ContactsKitError):
    """An `If-Match` or `If-None-Match` header that is not `*` or a list of entity tags."""

    code = ErrorCode.MALFORMED_REQUEST
    message = (
        'If-Match and If-None-Match take "*" or entity tags in double quotes, as an ETag header '
        'gives them (for example "42-3").'
    )

    @classmethod
    def of(cls, header: str) -> MalformedEntityTags:
        """The error naming the header that was malformed."""
        return cls(
            f'{header} must be "*" or entity tags in double quotes, as an ETag header gives them '
            '(for example "42-3").'
        )


class TagNotFound(ContactsKitError):
    """No tag with this id among the caller's."""

    code = ErrorCode.TAG_NOT_FOUND
    message = "Tag not found."


class TagExists(ContactsKitError):
    """Another tag of the caller has this name (in any letter case)."""

    code = ErrorCode.TAG_EXISTS
    message = "You have a tag with this name already (names ignore letter case)."


class TooManyTags(ContactsKitError):
    """The owner would have more tags than the limit."""

    code = ErrorCode.TAG_LIMIT_REACHED
    message = "You have 200 tags, the most an address book may have; delete one first."


class MergeNotFound(ContactsKitError):
    """No merge with this id among the owner's."""

    code = ErrorCode.MERGE_NOT_FOUND
    message = "No merge with this id among yours."


class MergeNotUndoable(ContactsKitError):
    """A merge whose undo cannot put things back: undone already, a contact merged away
    gone from the trash, or the merged contact in the trash."""

    code = ErrorCode.MERGE_NOT_UNDOABLE
    message = "This merge cannot be undone any more."


class MergeChanged(ContactsKitError):
    """The merged contact changed since the merge; `?force=true` keeps the changes."""

    code = ErrorCode.MERGE_CHANGED
    message = "The merged contact changed since the merge."

    @classmethod
    def of(cls, fields: list[str]) -> MergeChanged:
        """The error naming the fields that changed."""
        return cls(
            f"The merged contact changed since the merge: {', '.join(fields)}. Undo with "
            "?force=true to keep those changes on it, or change them back first."
        )


class InvalidSyncToken(ContactsKitError):
    """A `since` token that is not one of the changes feed's, or is another user's."""

    code = ErrorCode.INVALID_SYNC_TOKEN
    message = (
        "This sync token is not one the changes feed gave you; sync from the start "
        "(without `since`)."
    )


class SyncTokenExpired(ContactsKitError):
    """A `since` token older than the tombstones kept."""

    code = ErrorCode.SYNC_TOKEN_EXPIRED
    message = (
        "This sync token is older than the deletions kept; drop your copy and sync from the "
        "start (without `since`)."
    )


class CalendarNotFound(ContactsKitError):
    """No birthday feed has this secret: it never did, or was rotated or revoked."""

    code = ErrorCode.CALENDAR_NOT_FOUND
    message = (
        "No birthday calendar at this address: it was revoked or replaced. Ask for a new one "
        "(POST /users/me/calendar-token)."
    )


class ImportUnreadable(ContactsKitError):
    """An import whose file is neither vCard nor CSV."""

    code = ErrorCode.IMPORT_UNREADABLE
    message = (
        "This file is neither vCard nor CSV with a name column: export your address book as "
        "vCard (.vcf) or CSV and send that."
    )


class ImportTooLarge(ContactsKitError):
    """An import over the size or record limit."""

    code = ErrorCode.FILE_TOO_LARGE
    message = "This import is too large."


class BatchAborted(Exception):
    """An operation of an atomic batch failed, and the batch wrote nothing."""

    def __init__(self, index: int, error: ContactsKitError) -> None:
        super().__init__(f"operation {index}: {error.detail}")
        self.index = index
        self.error = error


class UnsupportedPhoto(ContactsKitError):
    """A contact photo that is not a PNG, JPEG, WebP or GIF image."""

    code = ErrorCode.UNSUPPORTED_IMAGE
    message = "The file is not a PNG, JPEG, WebP or GIF image."


class PhotoTooLarge(ContactsKitError):
    """A contact photo over the size limit."""

    code = ErrorCode.FILE_TOO_LARGE
    message = "The photo is larger than allowed."


class PhotoNotStored(ContactsKitError):
    """The storage backend (Cloudinary, disk) refused or failed to keep the photo."""

    code = ErrorCode.STORAGE_FAILED
    message = "The photo could not be stored; the previous one is kept. Try again later."
