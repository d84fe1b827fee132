"""Where the tests find PostgreSQL and Redis: environment first, then testcontainers.

With CONTACTS_KIT_REQUIRE_SERVICES=1 (CI) a missing service fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest

DATABASE_ENV = "CONTACTS_KIT_TEST_DATABASE_URL"
REDIS_ENV = "CONTACTS_KIT_TEST_REDIS_URL"
REQUIRE_ENV = "CONTACTS_KIT_REQUIRE_SERVICES"


def services_required() -> bool:
    """True in CI, where a missing service is an error."""
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(what: str) -> None:
    """Skip the test, or fail it when services are required."""
    message = (
        f"{what} is not available: set {DATABASE_ENV} / {REDIS_ENV}, or run a Docker engine "
        "for testcontainers"
    )
    if services_required():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@functools.cache
def _docker_available() -> bool:
    """Whether a Docker engine answers (the client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """A server-level PostgreSQL URL (any database on it may be used to create ours)."""
    url = os.environ.get(DATABASE_ENV)
    if url:
        yield url
        return
    if not _docker_available():
        yield None
        return
    from testcontainers.community.postgres import PostgresContainer

    with PostgresContainer("postgres:16-alpine", driver=None) as container:
        yield container.get_connection_url()


@contextlib.contextmanager
def redis_server() -> Iterator[str | None]:
    """A Redis URL, or None when there is none."""
    url = os.environ.get(REDIS_ENV)
    if url:
        yield url
        return
    if not _docker_available():
        yield None
        return
    from testcontainers.community.redis import RedisContainer

    with RedisContainer("redis:7-alpine") as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(6379)
        yield f"redis://{host}:{port}/0"


def lab(variable: str) -> str:
    """A value the scale lab (`scripts/scale-lab up`) exports for the `scale` tests. Without
    the lab those tests skip; with `CONTACTS_KIT_REQUIRE_SCALE=1` (the lab's step of CI) a
    missing value is an error."""
    value = os.environ.get(variable, "").strip()
    if not value:
        if os.environ.get("CONTACTS_KIT_REQUIRE_SCALE") == "1":
            pytest.fail(f"CONTACTS_KIT_REQUIRE_SCALE=1 but {variable} is not set")
        pytest.skip("no scale lab: run `scripts/scale-lab up` and source its env")
    return value
