"""Duplicates: precision and recall on the labelled fixture, and the time to find them in a
50,000-contact book on PostgreSQL.

    python -m bench.duplicates               # precision and recall on the labelled fixture
    python -m bench.duplicates --write       # write tests/contact/files/duplicates.csv again
    python -m bench.duplicates --book 50000  # also: find them in a seeded 50,000-contact book

The fixture holds people and, for some, a second card of the same person written another
way: a typo or a short form of the first name (`Jon`/`John`), the name in another script or
transliteration (`Олександр`/`Oleksandr`/`Aleksandr`), the phone in another notation, the
email with a `+tag` or Gmail's dots. It also holds what is *not* a duplicate: families
sharing a home phone, people with one last name and alike first names born on other days.
`same_as` names the row a card duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import sys
import time
from datetime import date
from itertools import combinations
from pathlib import Path

from rapidfuzz import fuzz

from contacts_kit.contact.duplicates import Card, find_groups
from contacts_kit.contact.phones import normalize_phone

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "contact" / "files" / "duplicates.csv"
COLUMNS = (
    "row",
    "same_as",
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "organization",
)

_PEOPLE = [
    ("John", "Jon", "Smith"),
    ("Catherine", "Katherine", "Johnson"),
    ("Oleksandr", "Aleksandr", "Shevchenko"),
    ("Олександр", "Oleksandr", "Kovalenko"),
    ("Mikhail", "Michael", "Ivanov"),
    ("Jürgen", "Juergen", "Müller"),
    ("Zoë", "Zoe", "Ørsted"),
    ("Sergey", "Sergei", "Petrov"),
    ("Aleksandra", "Alexandra", "Nowak"),
    ("Francois", "François", "Dubois"),
    ("Steven", "Stephen", "Clarke"),
    ("Mohammed", "Muhammad", "Khan"),
    ("Yevgeniy", "Evgeny", "Smirnov"),
    ("Jose", "José", "García"),
    ("Ana", "Anna", "Silva"),
]
_FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Linus",
    "Barbara",
    "Ken",
    "Edsger",
    "Margaret",
    "Hedy",
    "Tim",
    "Radia",
    "Frances",
    "Donald",
    "Dennis",
    "Niklaus",
    "Bjarne",
    "Guido",
    "Yukihiro",
    "Anders",
    "Sophie",
    "Lukas",
    "Mia",
    "Noah",
    "Elena",
    "Ivan",
    "Olga",
    "Taras",
    "Nadia",
    "Pedro",
    "Lucia",
    "Omar",
    "Leila",
    "Chen",
    "Mei",
    "Arjun",
    "Priya",
    "Kwame",
    "Amara",
    "Sven",
    "Ingrid",
]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Liskov",
    "Thompson",
    "Dijkstra",
    "Hamilton",
    "Lamarr",
    "Berners",
    "Perlman",
    "Allen",
    "Knuth",
    "Ritchie",
    "Wirth",
    "Stroustrup",
    "Rossum",
    "Matsumoto",
    "Hejlsberg",
    "Wilson",
    "Becker",
    "Fischer",
    "Weber",
    "Rossi",
    "Bianchi",
    "Moreau",
    "Laurent",
    "Tkachenko",
    "Bondarenko",
    "Melnyk",
    "Kowalczyk",
    "Santos",
    "Oliveira",
    "Hassan",
    "Wang",
    "Li",
    "Patel",
    "Sharma",
    "Mensah",
    "Larsen",
]
_ORGS = ["Acme", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises"]


def _phone(rng: random.Random) -> str:
    return f"+1 202 555 {rng.randrange(10000):04d}"


def _day(rng: random.Random) -> date:
    return date(rng.randrange(1950, 2005), rng.randrange(1, 13), rng.randrange(1, 29))


def _typo(name: str, rng: random.Random) -> str:
    """One letter doubled or two neighbours swapped (never the first letter)."""
    at = rng.randrange(1, len(name) - 1)
    if rng.random() < 0.5:
        return name[:at] + name[at] + name[at:]
    return name[:at] + name[at + 1] + name[at] + name[at + 2 :]


def _national(phone: str) -> str:
    digits = phone.replace("+1 ", "").replace(" ", "")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def write_fixture(path: Path = FIXTURE, people: int = 360) -> None:
    """The labelled fixture, the same every time."""
    rng = random.Random(31)
    rows: list[dict[str, str]] = []

    def add(same_as: str = "", **fields: str) -> str:
        row = str(len(rows) + 1)
        rows.append({"row": row, "same_as": same_as, **fields})
        return row

    for n in range(people):
        # Every (first, last) of the people once: a name two people share is no duplicate
        # that any finder could tell apart from one.
        first, last = _FIRST[n % len(_FIRST)], _LAST[(n % 40 + 7 * (n // 40)) % len(_LAST)]
        email = f"{first.lower()}.{last.lower()}{n}@example.org"
        born = _day(rng)
        phone = _phone(rng)
        org = rng.choice(_ORGS) if n % 3 == 0 else ""
        row = add(
            first_name=first,
            last_name=last,
            email=email,
            phone=phone,
            birthday=born.isoformat(),
            organization=org,
        )
        kind = n % 9
        if kind == 0:  # a typo in the first name, the phone in another notation
            add(row, first_name=_typo(first, rng), last_name=last, phone=_national(phone))
        elif kind == 1:  # the email with a +tag, no phone
            add(row, first_name=first, last_name=last, email=email.replace("@", "+work@"))
        elif kind == 2:  # same name, same birthday, another email
            add(
                row,
                first_name=first,
                last_name=last,
                email=f"{first.lower()}@mail{n}.example",
                birthday=born.isoformat(),
            )
        elif kind == 3:  # a family sharing the home phone: NOT a duplicate
            other = next(
                name
                for step in range(11, 60)
                if fuzz.ratio(name := _FIRST[(n + step) % len(_FIRST)], first) < 50
            )
            add(
                first_name=other,
                last_name=last,
                phone=phone,
                email=f"{other.lower()}{n}@example.net",
            )
        elif kind == 4:  # alike first names, one last name, born on other days: NOT one person
            add(
                first_name=first + "a",
                last_name=last,
                email=f"x{n}@example.net",
                birthday=_day(rng).isoformat(),
            )
    for n, (written, other, last) in enumerate(_PEOPLE * 3):
        born = _day(rng)
        # The same first names again, other people: other last names.
        family = last if n < len(_PEOPLE) else _LAST[(n * 3) % len(_LAST)] + "-" + last
        row = add(
            first_name=written,
            last_name=family,
            email=f"p{n}@example.com",
            birthday=born.isoformat(),
        )
        add(
            row,
            first_name=other,
            last_name=family,
            email=f"q{n}@example.com",
            phone="" if n % 2 else _phone(rng),
        )
    gmail = add(first_name="Ada", last_name="King", email="ada.king@gmail.com")
    add(gmail, first_name="Ada", last_name="King-Noel", email="adaking@googlemail.com")
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in COLUMNS} for row in rows)


def read_fixture(path: Path = FIXTURE) -> tuple[list[Card], set[frozenset[int]]]:
    """The fixture's cards (as the API stores them) and its true duplicate pairs."""
    cards, truth = [], set()
    with path.open(encoding="utf-8") as source:
        for row in csv.DictReader(source):
            number = int(row["row"])
            phone = normalize_phone(row["phone"], "US") if row["phone"] else None
            cards.append(
                Card(
                    number,
                    row["first_name"],
                    row["last_name"],
                    (row["email"].lower(),) if row["email"] else (),
                    (phone,) if phone else (),
                    date.fromisoformat(row["birthday"]) if row["birthday"] else None,
                    row["organization"] or None,
                )
            )
            if row["same_as"]:
                truth.add(frozenset({number, int(row["same_as"])}))
    return cards, truth


def precision_recall(cards: list[Card], truth: set[frozenset[int]]) -> tuple[float, float, int]:
    """Over pairs: of the pairs the groups put together, how many are true; of the true
    pairs, how many the groups found."""
    found = {frozenset(pair) for group in find_groups(cards) for pair in combinations(group.ids, 2)}
    right = len(found & truth)
    return right / len(found) if found else 1.0, right / len(truth), len(found)


async def time_the_book(database_url: str, size: int) -> None:
    """Seed a book of `size` full cards, then time what `GET /contacts/duplicates` does: the
    read of every card (its plan printed) and the finder, three times."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from bench.seed import seed
    from contacts_kit.contact.repository import ContactReads
    from contacts_kit.contact.repository.statements import DUPLICATE_CARDS
    from contacts_kit.db.engine import postgres_connect_args
    from contacts_kit.db.rows import rows_for
    from contacts_kit.settings import normalize_database_url

    seeded = await seed(database_url, users=2, per_user=10, big=size)
    owner = seeded.big_user.hex
    engine = create_async_engine(
        normalize_database_url(database_url), connect_args=postgres_connect_args()
    )
    try:
        reads = ContactReads(engine, rows_for(engine), owner)
        for _ in range(3):
            start = time.perf_counter()
            cards = await reads.duplicate_cards()
            read = time.perf_counter() - start
            groups = find_groups(cards, await reads.dismissed())
            took = time.perf_counter() - start
            print(
                f"- {len(cards):,} contacts: read {read:.2f} s, found {len(groups):,} groups, "
                f"{took:.2f} s in all",
                flush=True,
            )
        sql = str(
            DUPLICATE_CARDS.compile(engine.sync_engine, compile_kwargs={"literal_binds": False})
        )
        async with engine.connect() as connection:
            plan = await connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, (owner,))
            print("\n".join(f"    {line}" for (line,) in plan))
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m bench.duplicates`."""
    parser = argparse.ArgumentParser(prog="python -m bench.duplicates")
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--book", type=int, default=0, help="also time a book of this size")
    args = parser.parse_args(argv)
    if args.book:
        from bench.__main__ import DEFAULT_DATABASE

        asyncio.run(time_the_book(DEFAULT_DATABASE, args.book))
    if args.write:
        write_fixture()
    cards, truth = read_fixture()
    precision, recall, found = precision_recall(cards, truth)
    print(
        f"{len(cards)} contacts, {len(truth)} true duplicate pairs; {found} pairs found: "
        f"precision {precision:.3f}, recall {recall:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
