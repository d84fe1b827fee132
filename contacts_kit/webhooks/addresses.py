"""Where a webhook may be sent: `https` to a public address, unless the settings allow
private ones (development and tests). Checked when an endpoint is saved and again, on the
address the name resolves to, each time a message is sent, which is the address the message
then goes to: a name that resolves elsewhere later (DNS rebinding) does not get through."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL = 2048
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedUrl(ValueError):
    """A URL that no message may be sent to; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one message goes: the URL as saved, and the address to connect to."""

    url: SplitResult
    address: str


def _public(address: IpAddress) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    # Not global: private, loopback, link-local (the cloud metadata service at
    # 169.254.169.254 among them), shared (100.64.0.0/10), reserved, unspecified.
    return address.is_global and not address.is_multicast


def checked_url(url: str, *, allow_private: bool) -> SplitResult:
    """The URL split, if its form may take messages: `https` (or `http` with
    `allow_private`), a host, no user name or password, a public address when the host is
    one. `RefusedUrl` says why not."""
    if len(url) > MAX_URL:
        raise RefusedUrl(f"the URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedUrl(f"not a URL: {exc}") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise RefusedUrl(f"only {' or '.join(schemes)} URLs take webhooks")
    if not parts.hostname:
        raise RefusedUrl("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise RefusedUrl("a URL with a user name or password is refused (put a token in it)")
    if port == 0:
        raise RefusedUrl("port 0 is no port")
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return parts
    if not allow_private and not _public(literal):
        raise RefusedUrl(f"{literal} is not a public address")
    return parts


async def resolved(parts: SplitResult, *, allow_private: bool) -> Target:
    """Where the message to this URL goes: the first address its host resolves to, if every
    one of them is public (or `allow_private`). `RefusedUrl` when a name does not resolve or
    resolves to a private address."""
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise RefusedUrl(f"the host {host} does not resolve") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found]
    if not addresses:
        raise RefusedUrl(f"the host {host} does not resolve")
    if not allow_private:
        private = next((address for address in addresses if not _public(address)), None)
        if private is not None:
            raise RefusedUrl(f"{host} resolves to {private}, which is not a public address")
    return Target(parts, str(addresses[0]))
