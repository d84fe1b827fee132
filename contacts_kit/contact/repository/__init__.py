"""SQL of contacts, and only here. Every statement is scoped to one owner (but the
maintenance across owners); every row leaves as a `ContactRecord`.

- `statements`: the read statements, built once per shape, and the records of their rows;
- `reads`: `ContactReads`, one owner's reads on a connection of their own (replica-aware);
- `writes`: `ContactRepository`, one owner's writes in the request's transaction.
"""

from contacts_kit.contact.repository.reads import ContactReads, calendar_owner
from contacts_kit.contact.repository.statements import (
    ContactFilters,
    Occasion,
    Query,
    StoredTag,
    Where,
    birthdays_query,
    by_id_query,
    search_query,
    search_text_of,
    sorted_stored_tags,
)
from contacts_kit.contact.repository.writes import (
    ChangeNumbers,
    ContactRepository,
    erase_book,
    photo_keys,
    prune_tombstones,
    purge_trash,
)

__all__ = [
    "ChangeNumbers",
    "ContactFilters",
    "ContactReads",
    "ContactRepository",
    "Occasion",
    "Query",
    "StoredTag",
    "Where",
    "birthdays_query",
    "by_id_query",
    "calendar_owner",
    "erase_book",
    "photo_keys",
    "prune_tombstones",
    "purge_trash",
    "search_query",
    "search_text_of",
    "sorted_stored_tags",
]
