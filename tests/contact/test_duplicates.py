"""Likely duplicates: the finder on the labelled fixture (precision and recall), each reason
on its own, and `GET /contacts/duplicates` with dismissals on both dialects and in a host
app with its own users."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest

from bench.duplicates import precision_recall, read_fixture
from contacts_kit.contact.duplicates import Card, find_groups, mailbox
from tests.test_host_users import Host
from tests.test_host_users import host as host  # the fixture


def _card(contact_id: int, first: str, last: str, **fields: Any) -> Card:
    return Card(
        contact_id,
        first,
        last,
        tuple(fields.get("emails", ())),
        tuple(fields.get("phones", ())),
        fields.get("birthday"),
        fields.get("organization"),
    )


def test_the_labelled_fixture_is_found_with_the_precision_and_recall_asked() -> None:
    cards, truth = read_fixture()
    assert len(cards) >= 500
    precision, recall, _ = precision_recall(cards, truth)
    assert precision >= 0.9
    assert recall >= 0.8


@pytest.mark.parametrize(
    ("a", "b", "reasons"),
    [
        # One mailbox: a +tag, Gmail's dots and domains.
        (
            _card(1, "Ada", "Lovelace", emails=["ada+work@example.com"]),
            _card(2, "Augusta", "King", emails=["ada@example.com"]),
            ["email"],
        ),
        (
            _card(1, "Ada", "King", emails=["ada.king@gmail.com"]),
            _card(2, "Ada", "King-Noel", emails=["adaking@googlemail.com"]),
            ["email"],
        ),
        # One phone, names that agree (a typo).
        (
            _card(1, "Tim", "Berners", phones=["+12025550143"]),
            _card(2, "Tmi", "Berners", phones=["+12025550143"]),
            ["phone"],
        ),
        # Transliterations and spellings.
        (_card(1, "Олександр", "Шевченко"), _card(2, "Aleksandr", "Shevchenko"), ["name"]),
        (_card(1, "Jon", "Smith"), _card(2, "John", "Smith"), ["name"]),
        (_card(1, "Mohammed", "Khan"), _card(2, "Muhammad", "Khan"), ["name"]),
        # Made surer by a birthday or an organisation.
        (
            _card(1, "Mikhail", "Ivanov", birthday=date(1980, 3, 1)),
            _card(2, "Michael", "Ivanov", birthday=date(1980, 3, 1), organization="Acme"),
            ["birthday", "name"],
        ),
    ],
)
def test_each_reason_is_found(a: Card, b: Card, reasons: list[str]) -> None:
    (group,) = find_groups([a, b])
    assert group.ids == [1, 2]
    assert group.reasons == reasons
    assert 0.75 <= group.score <= 0.99


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # A family's shared phone: two people.
        (
            _card(1, "Maria", "Garcia", phones=["+12025550143"]),
            _card(2, "Jose", "Garcia", phones=["+12025550143"]),
        ),
        # Alike names born on other days: two people.
        (
            _card(1, "Anna", "Kowalski", birthday=date(1980, 1, 1)),
            _card(2, "Hanna", "Kowalski", birthday=date(1983, 5, 2)),
        ),
        (_card(1, "Mary", "Jones"), _card(2, "Mira", "Jones")),
    ],
)
def test_what_is_not_one_person_is_not_grouped(a: Card, b: Card) -> None:
    assert find_groups([a, b]) == []


def test_a_group_never_holds_two_birthdays() -> None:
    cards = [
        _card(1, "Jon", "Smith", birthday=date(1980, 1, 1)),
        _card(2, "John", "Smith"),
        _card(3, "John", "Smith", birthday=date(1990, 6, 6)),
    ]
    groups = find_groups(cards)
    assert len(groups) == 1
    assert groups[0].ids in ([1, 2], [2, 3])


def test_a_mailbox_ignores_tags_and_gmail_dots() -> None:
    assert mailbox("A.Da+x@GoogleMail.com") == "ada@gmail.com"
    assert mailbox("a.da+x@example.com") == "a.da@example.com"


async def _create(client: httpx.AsyncClient, url: str, headers: dict[str, str], **body: Any) -> int:
    created = await client.post(url, json=body, headers=headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def test_duplicates_are_listed_dismissed_and_kept_apart(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    url = "/api/contacts"
    jon = await _create(client, url, alice, first_name="Jon", last_name="Smith", email="j@x.org")
    john = await _create(
        client, url, alice, first_name="John", last_name="Smith", phone="+1 202 555 0143"
    )
    oleks = await _create(
        client, url, alice, first_name="Олександр", last_name="Шевченко", email="o@x.org"
    )
    aleks = await _create(
        client, url, alice, first_name="Aleksandr", last_name="Shevchenko", email="a@x.org"
    )
    maria = await _create(
        client, url, alice, first_name="Maria", last_name="Garcia", phone="(202) 555-0100"
    )
    await _create(client, url, alice, first_name="Jose", last_name="Garcia", phone="+12025550100")
    await _create(client, url, bob, first_name="John", last_name="Smith", email="bob@x.org")
    found = await client.get(f"{url}/duplicates", headers=alice)
    assert found.status_code == 200, found.text
    groups = found.json()["groups"]
    assert [(g["ids"], g["reasons"]) for g in groups] == [
        ([jon, john], ["name"]),
        ([oleks, aleks], ["name"]),
    ]
    assert found.json()["next"] is None
    assert all(maria not in g["ids"] for g in groups)  # a family's phone
    # A page at a time.
    first = (await client.get(f"{url}/duplicates", params={"limit": 1}, headers=alice)).json()
    assert [g["ids"] for g in first["groups"]] == [[jon, john]]
    second = await client.get(
        f"{url}/duplicates", params={"limit": 1, "cursor": first["next"]}, headers=alice
    )
    assert [g["ids"] for g in second.json()["groups"]] == [[oleks, aleks]]
    bad = await client.get(f"{url}/duplicates", params={"cursor": "nonsense"}, headers=alice)
    assert bad.status_code == 422
    # Dismissed: not offered again.
    dismissed = await client.post(
        f"{url}/duplicates/dismiss", json={"ids": [john, jon]}, headers=alice
    )
    assert dismissed.status_code == 204
    again = (await client.get(f"{url}/duplicates", headers=alice)).json()["groups"]
    assert [g["ids"] for g in again] == [[oleks, aleks]]
    # Someone else's contact, or a group of one, cannot be dismissed.
    theirs = await client.post(
        f"{url}/duplicates/dismiss", json={"ids": [oleks, 10**9]}, headers=alice
    )
    assert theirs.status_code == 404
    one = await client.post(
        f"{url}/duplicates/dismiss", json={"ids": [oleks, oleks]}, headers=alice
    )
    assert one.status_code == 422
    # Bob's book is his own: his John Smith is no duplicate of Alice's.
    assert (await client.get(f"{url}/duplicates", headers=bob)).json()["groups"] == []
    # A POST to the list of duplicates names the method it takes.
    wrong = await client.post(f"{url}/duplicates", headers=alice)
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")


async def test_duplicates_work_for_host_users(host: Host) -> None:
    ada = host.users[0]
    url = "/api/contacts"
    one = await _create(ada, url, {}, first_name="Катерина", last_name="Іваненко", email="k@x.org")
    two = await _create(ada, url, {}, first_name="Kateryna", last_name="Ivanenko", email="v@x.org")
    groups = (await ada.get(f"{url}/duplicates")).json()["groups"]
    assert [g["ids"] for g in groups] == [[one, two]]
    assert (
        await ada.post(f"{url}/duplicates/dismiss", json={"ids": [one, two]})
    ).status_code == 204
    assert (await ada.get(f"{url}/duplicates")).json()["groups"] == []
    erased = await host.kit.erase_owner(host.ids[0])
    assert erased.rows["contacts_kit_duplicate_dismissals"] == 1
