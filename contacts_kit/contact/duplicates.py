"""Finding the contacts of a book that are likely one person. No SQL and no HTTP here: the
cards in, groups with a score and their reasons out.

Contacts are compared only within blocks (the same email, the same phone number, the same
last name, the same first name and last initial, all transliterated and folded), so a book
of 50,000 costs a few comparisons per contact, not 50,000 each. A pair is scored on:

- **email**: one mailbox on both. An address is on one live contact at most, so these are
  two spellings of one mailbox: `ada+work@example.com` and `ada@example.com` (a `+tag` is
  the same mailbox), `ada.lovelace@gmail.com` and `adalovelace@googlemail.com` (Gmail
  ignores dots): 0.99;
- **phone**: one number on both, and names that agree (a family's shared landline with
  two different people's names is no duplicate): 0.95;
- **name**: the same last name and a first name spelled nearly alike (`Jon`/`John`,
  `Oleksandr`/`Aleksandr`/`Олександр`, compared in Latin letters): 0.75, more with an
  agreeing birthday or organisation, never with two different birthdays.

Pairs of at least `THRESHOLD` join into groups (a contact is in one group at most); a
group's score is its best pair's.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import combinations

from anyascii import anyascii
from rapidfuzz import fuzz

from contacts_kit.contact.text import SEPARATOR

THRESHOLD = 0.75
MAX_BLOCK = 100
"""A block larger than this (a last name or a first name many share) is compared in parts:
a last name's by the first letter of the first names, a first name's by the first three
letters of the last names."""


@dataclass(frozen=True, slots=True)
class Card:
    """What duplicates are found by, of one live contact."""

    id: int
    first_name: str
    last_name: str
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    birthday: date | None
    organization: str | None

    @classmethod
    def of_search_text(
        cls, contact_id: int, text: str, birthday: date | None, organization: str | None
    ) -> Card:
        """A card from a contact's folded search column (`contact.text.search_text`): its
        names, its emails, and its phones as the digits search keeps (words of seven digits
        or more among the rest)."""
        first, last, emails, others = [*text.split(SEPARATOR), "", "", "", ""][:4]
        phones = tuple(word for word in others.split() if len(word) >= 7 and word.isdigit())
        return cls(contact_id, first, last, tuple(emails.split()), phones, birthday, organization)


@dataclass
class Group:
    """Contacts that are likely one person: ids ascending, the score of the best pair, and
    every reason that joined them."""

    ids: list[int]
    score: float
    reasons: list[str] = field(default_factory=list)


@functools.lru_cache(maxsize=65536)
def latin(text: str) -> str:
    """A name in folded Latin letters: `Олександр` -> `oleksandr`, `Zoë` -> `zoe`."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return anyascii(bare).casefold().strip()


_DOTLESS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def mailbox(email: str) -> str:
    """The mailbox an address reaches: without its `+tag`, and for Gmail without dots."""
    local, _, domain = email.lower().rpartition("@")
    local = local.partition("+")[0]
    if domain in _DOTLESS:
        local, domain = local.replace(".", ""), _DOTLESS[domain]
    return f"{local}@{domain}"


# Spellings that transliterations and languages swap: compared as one.
_SOUNDS = (
    ("kh", "h"),
    ("ch", "h"),
    ("ph", "f"),
    ("th", "t"),
    ("ck", "k"),
    ("x", "ks"),
    ("q", "k"),
    ("c", "k"),
    ("w", "v"),
    ("y", "i"),
    ("j", "i"),
    ("ue", "u"),
    ("oe", "o"),
    ("ae", "a"),
    ("ou", "u"),
    ("ee", "i"),
)
_VOWELS = frozenset("aeiou")


def _spoken(name: str) -> str:
    """A Latin name as it sounds, roughly: `Mikhail` and `Michael` -> `mihail`, `mihael`."""
    for written, sound in _SOUNDS:
        name = name.replace(written, sound)
    letters = [char for char in name if char.isalpha()]
    return "".join(char for i, char in enumerate(letters) if i == 0 or char != letters[i - 1])


def first_names_alike(a: str, b: str) -> float:
    """How alike two first names in Latin letters are, 0 to 100: as written, as they sound,
    and 90 for names of the same consonants that sound alike enough (`Mohammed`/`Muhammad`)."""
    spoken_a, spoken_b = _spoken(a), _spoken(b)
    alike = max(fuzz.ratio(a, b), fuzz.ratio(spoken_a, spoken_b))
    consonants_a = "".join(char for char in spoken_a if char not in _VOWELS)
    consonants_b = "".join(char for char in spoken_b if char not in _VOWELS)
    if len(consonants_a) >= 3 and consonants_a == consonants_b and alike >= 65:
        alike = max(alike, 90.0)
    return alike


def _number(phone: str) -> str:
    return phone.partition(";")[0]


class _Names:
    """Each card's names in Latin letters, computed once."""

    def __init__(self, cards: Iterable[Card]) -> None:
        self.first: dict[int, str] = {}
        self.last: dict[int, str] = {}
        for card in cards:
            self.first[card.id] = latin(card.first_name)
            self.last[card.id] = latin(card.last_name)

    def similar(self, a: int, b: int) -> float:
        """How alike two cards' names are, 0 to 100 (the first names', when the last names
        are the same; else the whole names')."""
        if self.last[a] == self.last[b]:
            return first_names_alike(self.first[a], self.first[b])
        return fuzz.token_sort_ratio(
            f"{self.first[a]} {self.last[a]}", f"{self.first[b]} {self.last[b]}"
        )


_EMAIL, _PHONE, _NAME = 1, 2, 4
_KINDS = {"email": _EMAIL, "phone": _PHONE, "last": _NAME, "first": _NAME}


def _born_apart(a: Card, b: Card) -> bool:
    return (
        a.birthday is not None
        and b.birthday is not None
        and (a.birthday.month, a.birthday.day) != (b.birthday.month, b.birthday.day)
    )


def _score(a: Card, b: Card, names: _Names, shared: int) -> tuple[float, list[str]]:
    """The score of a pair and its reasons; `shared` says what blocks they met in."""
    if not shared & _EMAIL and _born_apart(a, b):
        return 0.0, []  # two people born on different days
    alike = names.similar(a.id, b.id)
    same_last = names.last[a.id] == names.last[b.id] and bool(names.last[a.id])
    reasons: list[str] = []
    score = 0.0
    if shared & _EMAIL:
        score, reasons = 0.99, ["email"]
    if shared & _PHONE and alike >= 60:
        score = max(score, 0.95)
        reasons.append("phone")
    if (same_last and alike >= 80) or alike >= 92:
        reasons.append("name")
        score = max(score, 0.75)
    if not reasons:
        return 0.0, []
    if a.birthday and b.birthday and not _born_apart(a, b):
        reasons.append("birthday")
        score = min(0.99, score + 0.15)
    if a.organization and b.organization and latin(a.organization) == latin(b.organization):
        reasons.append("organization")
        score = min(0.99, score + 0.1)
    return score, reasons


def _blocks(cards: Sequence[Card], names: _Names) -> dict[tuple[str, str], list[int]]:
    blocks: dict[tuple[str, str], list[int]] = defaultdict(list)
    for card in cards:
        for email in card.emails:
            blocks[("email", mailbox(email))].append(card.id)
        for phone in card.phones:
            blocks[("phone", _number(phone))].append(card.id)
        last, first = names.last[card.id], names.first[card.id]
        if last:
            blocks[("last", last)].append(card.id)
        if first:
            blocks[("first", f"{first} {last[:1]}")].append(card.id)
    return blocks


NEIGHBOURS = 8
"""In a part still larger than `MAX_BLOCK`, each contact is compared with this many that
follow it in name order (a sorted neighbourhood): the work stays linear in the book."""


def _pairs(kind: str, block: list[int], names: _Names) -> Iterable[tuple[int, int]]:
    if len(block) <= MAX_BLOCK:
        return combinations(block, 2)
    parts: dict[str, list[int]] = defaultdict(list)
    for contact_id in block:
        if kind == "last":
            key = names.first[contact_id][:1]
        elif kind == "first":
            key = names.last[contact_id][:3]
        else:
            key = ""  # thousands on one phone or mailbox: neighbours only
        parts[key].append(contact_id)
    return (pair for part in parts.values() for pair in _part_pairs(part, names))


def _part_pairs(part: list[int], names: _Names) -> Iterable[tuple[int, int]]:
    if len(part) <= MAX_BLOCK:
        yield from combinations(part, 2)
        return
    ordered = sorted(part, key=lambda i: (names.last[i], names.first[i], i))
    for at, a in enumerate(ordered):
        for b in ordered[at + 1 : at + 1 + NEIGHBOURS]:
            yield (a, b) if a < b else (b, a)


def _candidates(cards: Sequence[Card], names: _Names) -> dict[tuple[int, int], int]:
    """The pairs that met in some block, with the kinds of block they met in; of the names'
    blocks only the pairs not born on different days (the most of a large book's)."""
    born = {
        card.id: card.birthday.month * 100 + card.birthday.day if card.birthday else 0
        for card in cards
    }
    met: dict[tuple[int, int], int] = defaultdict(int)
    for (kind, _), block in _blocks(cards, names).items():
        if len(block) < 2:
            continue
        bit = _KINDS[kind]
        for a, b in _pairs(kind, sorted(set(block)), names):
            if bit == _NAME and born[a] and born[b] and born[a] != born[b]:
                continue
            met[(a, b)] |= bit
    return met


Scored = tuple[float, int, int, list[str]]


def _grouped(kept: list[Scored], by_id: dict[int, Card]) -> list[Group]:
    """The pairs joined into groups, the best pairs first; a pair that would put two
    different birthdays in one group is left out (two people, whatever else they share)."""
    parent: dict[int, int] = {}
    born: dict[int, set[tuple[int, int]]] = {}
    best: dict[int, float] = {}
    why: dict[int, set[str]] = defaultdict(set)

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for score, a, b, reasons in sorted(kept, reverse=True):
        for node in (a, b):
            if node not in parent:
                parent[node] = node
                day = by_id[node].birthday
                born[node] = {(day.month, day.day)} if day else set()
        ra, rb = root(a), root(b)
        if ra != rb:
            if len(born[ra] | born[rb]) > 1:
                continue
            top, other = min(ra, rb), max(ra, rb)
            parent[other] = top
            born[top] |= born.pop(other)
            best[top] = max(best.get(top, 0.0), best.pop(other, 0.0))
            why[top] |= why.pop(other, set())
        top = root(a)
        best[top] = max(best.get(top, 0.0), score)
        why[top].update(reasons)
    members: dict[int, list[int]] = defaultdict(list)
    for node in parent:
        members[root(node)].append(node)
    return [
        Group(sorted(ids), round(best[top], 2), sorted(why[top]))
        for top, ids in members.items()
        if len(ids) > 1
    ]


def find_groups(cards: Sequence[Card], dismissed: Iterable[frozenset[int]] = ()) -> list[Group]:
    """The groups of likely duplicates among `cards`, best first (then by smallest id),
    without the groups `dismissed` (as they were dismissed: the same ids)."""
    by_id = {card.id: card for card in cards}
    names = _Names(cards)
    kept: list[Scored] = []
    for (a, b), shared in _candidates(cards, names).items():
        score, reasons = _score(by_id[a], by_id[b], names, shared)
        if score >= THRESHOLD:
            kept.append((score, a, b, reasons))
    hidden = {frozenset(ids) for ids in dismissed}
    groups = [group for group in _grouped(kept, by_id) if frozenset(group.ids) not in hidden]
    return sorted(groups, key=lambda group: (-group.score, group.ids[0]))
