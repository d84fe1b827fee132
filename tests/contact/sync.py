"""A client of the changes feed, as an app keeping a copy of its address book would be."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Replica:
    """A local copy of one user's book, kept by `GET /contacts/changes`."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    prefix: str = "/api"
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    token: str | None = None

    async def sync(self, limit: int = 100) -> list[dict[str, Any]]:
        """Apply every change since the last sync; the pages it read."""
        pages = []
        while True:
            params: dict[str, Any] = {"limit": limit}
            if self.token is not None:
                params["since"] = self.token
            response = await self.client.get(
                f"{self.prefix}/contacts/changes", params=params, headers=self.headers
            )
            assert response.status_code == 200, response.text
            page = response.json()
            pages.append(page)
            for contact in page["changed"]:
                self.contacts[contact["id"]] = contact
            for contact_id in page["deleted"]:
                self.contacts.pop(contact_id, None)
            self.token = page["next"]
            if not page["has_more"]:
                return pages


async def server_book(
    client: httpx.AsyncClient, headers: dict[str, str], prefix: str = "/api"
) -> dict[int, dict[str, Any]]:
    """Every live contact of the user, as `GET /contacts` pages them."""
    book: dict[int, dict[str, Any]] = {}
    offset = 0
    while True:
        response = await client.get(
            f"{prefix}/contacts", params={"limit": 100, "offset": offset}, headers=headers
        )
        assert response.status_code == 200, response.text
        page = response.json()
        book |= {contact["id"]: contact for contact in page}
        if len(page) < 100:
            return book
        offset += 100
