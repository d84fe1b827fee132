"""The `contacts-kit` command: `serve` and `migrate`."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Sequence

from fastapi import FastAPI

from contacts_kit.errors import ConfigurationError
from contacts_kit.migrate import upgrade
from contacts_kit.settings import Settings


def app_factory() -> FastAPI:
    """The app `serve` runs in each worker, configured from the environment and `.env`."""
    from contacts_kit.app import create_app

    app = create_app(Settings())
    # Everything built so far (modules, routes, models, schemas) lives as long as the
    # process: take it out of the garbage collector's sight. Full collections then look only
    # at what requests allocate, and stop pausing the worker for ~100 ms at a time under
    # load (docs/benchmarks.md). This is the server's own process, not a host app's.
    gc.collect()
    gc.freeze()
    return app


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    if settings.is_sqlite or args.migrate:
        # The embedded default migrates itself, so a newcomer's first command just works.
        upgrade(settings.database_url)
    uvicorn.run(
        "contacts_kit.cli:app_factory",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=False,
    )
    return 0


def _migrate(args: argparse.Namespace) -> int:
    settings = Settings()
    upgrade(settings.database_url, args.revision)
    print(f"database migrated to {args.revision}")
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
    return result


if __name__ == "__main__":
    sys.exit(main())
