"""The `contacts-kit` command: `serve`, `migrate`, `purge`, `worker` and `erase-owner`."""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

from contacts_kit.errors import ConfigurationError
from contacts_kit.migrate import upgrade
from contacts_kit.settings import Settings, configuration_errors

ENV_PREFIX = "CONTACTS_KIT_"
logger = logging.getLogger("contacts_kit")


def _shown(database_url: str) -> str:
    """A database URL as a log line may show it: no password."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def app_factory(settings: Settings | None = None) -> FastAPI:
    """The app `serve` runs in each worker, configured from the environment and `.env`
    (or from `settings`)."""
    from contacts_kit.app import create_app

    app = create_app(settings or Settings())
    # Everything built so far (modules, routes, models, schemas) lives as long as the
    # process: take it out of the garbage collector's sight. Full collections then look only
    # at what requests allocate, and stop pausing the worker for ~100 ms at a time under
    # load (docs/benchmarks.md). This is the server's own process, not a host app's.
    gc.collect()
    gc.freeze()
    return app


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration with contacts-kit's loggers (the console mailer's links
    among them) at `level`: uvicorn applies it in every worker process, not only the parent."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["contacts_kit"] = {
        "()": "uvicorn.logging.DefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
    }
    config["handlers"]["contacts_kit"] = {
        "formatter": "contacts_kit",
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
    }
    config["loggers"]["contacts_kit"] = {
        "handlers": ["contacts_kit"],
        "level": level.upper(),
        "propagate": False,
    }
    # Links the kit mails or hands out carry secrets: the access log writes `***` instead.
    config.setdefault("filters", {})["redact_secrets"] = {"()": "contacts_kit.logs.RedactSecrets"}
    config["handlers"]["access"]["filters"] = ["redact_secrets"]
    return config


def _public_url(settings: Settings, host: str, port: int) -> str | None:
    """The address `serve` binds, as the public URL, when no setting names one."""
    if "public_url" in settings.model_fields_set:
        return None
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _check_workers(settings: Settings, workers: int) -> None:
    """Build the kit once in this process, so a configuration error stops the command with
    its message (rather than each of the workers failing and restarting); refuse several
    workers on a cache each of them would have to itself."""
    from contacts_kit.kit import ContactsKit

    kit = ContactsKit(settings)
    if workers > 1 and not kit.cache_shared:
        raise ConfigurationError(
            f"--workers {workers} needs a cache every worker shares: with one of its own, a "
            "logout or a password change in one worker would not reach the others. Set "
            "CONTACTS_KIT_REDIS_URL (or install a cache plugin whose cache is shared), or run "
            "one worker"
        )


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    public_url = _public_url(settings, args.host, args.port)
    # Built here first, so a configuration error stops the command with its message: one
    # worker serves this very app (built once); several build their own from the factory.
    app: FastAPI | str = "contacts_kit.cli:app_factory"
    if args.workers > 1:
        _check_workers(settings, args.workers)
        if public_url is not None:
            # Emailed links and local avatar URLs name the address served, in every worker.
            os.environ[f"{ENV_PREFIX}PUBLIC_URL"] = public_url
    else:
        served = (
            settings
            if public_url is None
            else settings.model_copy(update={"public_url": public_url})
        )
        app = app_factory(served)
    if settings.is_sqlite or args.migrate:
        # The embedded default migrates itself, so a newcomer's first command just works:
        # one line says so (`contacts-kit migrate` shows each step).
        alembic = logging.getLogger("alembic")
        level = alembic.level
        alembic.setLevel(logging.WARNING)
        try:
            upgrade(settings.database_url)
        finally:
            alembic.setLevel(level)
        logger.info("database %s is at the latest schema", _shown(settings.database_url))
    uvicorn.run(
        app,
        factory=isinstance(app, str),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_config=log_config(args.log_level),
        proxy_headers=False,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = Settings()
    upgrade(settings.database_url, args.revision)
    print(f"database migrated to {args.revision}")
    return 0


async def _purge_trash(settings: Settings) -> tuple[int, int]:
    from contacts_kit.kit import ContactsKit

    # A kit without accounts, as `erase-owner`'s: its storage removes the purged photos.
    kit = ContactsKit(settings, owner=_nobody)
    async with kit.lifespan():
        return await kit.purge(datetime.now(UTC))


def _purge(args: argparse.Namespace) -> int:
    settings = Settings()
    from contacts_kit.mail import describe_duration

    purged, pruned = asyncio.run(_purge_trash(settings))
    age = describe_duration(settings.trash_retention)
    print(f"purged {purged} contact(s) from the trash, deleted more than {age} ago")
    kept = describe_duration(settings.tombstone_retention)
    print(f"forgot {pruned} deletion(s) older than {kept} (sync tokens from before get 410)")
    return 0


async def _work(settings: Settings) -> None:
    from contacts_kit.kit import ContactsKit

    # The worker runs the jobs itself, whatever the servers do.
    kit = ContactsKit(settings.model_copy(update={"jobs_in_process": False}), owner=_nobody)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with kit.lifespan():
        logging.getLogger("contacts_kit").info("worker started: webhooks and the purge")
        await kit.run_jobs(stop)


def _worker(args: argparse.Namespace) -> int:
    asyncio.run(_work(Settings()))
    return 0


def _nobody() -> str:
    raise RuntimeError("the command line serves no request")


async def _erase(settings: Settings, owner: str) -> dict[str, int]:
    from contacts_kit.kit import ContactsKit

    # A kit without accounts (the owner is the argument, no request comes): it erases in
    # one transaction and ends the owner's generation, so no worker serves what it kept.
    kit = ContactsKit(settings, owner=_nobody)
    async with kit.lifespan():
        return (await kit.erase_owner(owner)).rows


def _erase_owner(args: argparse.Namespace) -> int:
    rows = asyncio.run(_erase(Settings(), args.owner))
    for table, count in rows.items():
        print(f"{table}: {count} row(s) deleted")
    total = sum(rows.values())
    print(f"erased owner {args.owner!r}: {total} row(s) in all")
    if total == 0:
        print("(nothing found: a UUID owner is stored as its 32 hex digits, without hyphens)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `contacts-kit` command."""
    parser = argparse.ArgumentParser(prog="contacts-kit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    serve.add_argument("--migrate", action="store_true", help="upgrade the database before serving")
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="upgrade the database to the latest schema")
    migrate.add_argument("--revision", default="head", help="target revision (default head)")
    migrate.set_defaults(handler=_migrate)

    purge = commands.add_parser(
        "purge",
        help="delete for good the contacts in the trash for longer than TRASH_RETENTION "
        "(run it daily from cron or a scheduled job)",
    )
    purge.set_defaults(handler=_purge)

    worker = commands.add_parser(
        "worker",
        help="run the background work until stopped (SIGTERM): send webhook messages, purge "
        "the trash every PURGE_INTERVAL; run any number beside servers with "
        "JOBS_IN_PROCESS=false",
    )
    worker.set_defaults(handler=_worker)

    erase_owner = commands.add_parser(
        "erase-owner",
        help="delete an owner's whole address book (contacts, trash, tags, changes feed, "
        "calendar secret) and say what went",
    )
    erase_owner.add_argument(
        "owner", help="the owner key as stored: an id in decimal, a UUID as 32 hex digits, a string"
    )
    erase_owner.set_defaults(handler=_erase_owner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `contacts-kit` console script."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ConfigurationError as exc:
        print(f"contacts-kit: configuration error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for line in configuration_errors(exc):
            print(f"contacts-kit: configuration error: {line}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
