"""Whose address book a request reads and writes: the owner, as the host's dependency says.

The contacts module never looks at accounts. An address book belongs to an *owner key*: any
stable id a host has for a user (or for a team that shares one book). The kit's own accounts
are one supplier of it; a host with users of its own supplies its own ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

MAX_OWNER_KEY = 255
"""Characters of an owner key at most (the column is a VARCHAR(255))."""

OwnerId = int | str | uuid.UUID
"""What a host's owner dependency may return."""


class InvalidOwner(TypeError):
    """A host's owner dependency returned something that cannot key an address book: a
    programming error of the host, never the client's."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The owner of an address book: `key` as the kit stores it, `id` as the host gave it
    (what the `on_contact_*` hooks receive), and `cached`: entries of the shared cache its
    supplier read along with it (the kit's accounts read the owner's generation with the
    user: `contacts_kit.contact.pages`), by key."""

    key: str
    id: OwnerId
    cached: Mapping[str, str | None] | None = None

    @classmethod
    def of(cls, value: OwnerId, cached: Mapping[str, str | None] | None = None) -> Owner:
        """The owner of the id a host's dependency returned; `InvalidOwner` for anything but
        an int, a UUID or a string of 1 to 255 characters."""
        return cls(owner_key(value), value, cached)


def owner_key(value: OwnerId) -> str:
    """The stored key of an owner id: an int in decimal, a UUID as its 32 hex digits (the form
    the kit's own accounts have always used), a string as it is."""
    if isinstance(value, bool):
        raise InvalidOwner("an owner id is an int, a str or a UUID, not a bool")
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if not value or len(value) > MAX_OWNER_KEY:
            raise InvalidOwner(f"an owner key has 1 to {MAX_OWNER_KEY} characters")
        return value
    raise InvalidOwner(f"an owner id is an int, a str or a UUID, not {type(value).__name__}")
