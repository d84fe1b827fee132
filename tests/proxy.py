"""A TCP proxy in front of a real server (Redis, PostgreSQL) that a test can make hang or refuse,
as an outage looks from the client: bytes stop flowing, or connections are cut and new ones
refused. It runs its own event loop in a thread, so it serves servers in other processes too."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import Future
from typing import Any

from tests.server import free_port


class PausableProxy:
    """`127.0.0.1:port` forwards to `target_host:target_port` until told otherwise."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> PausableProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._call(self._stop())
        self._call(self._settle())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def url(self, scheme: str, path: str = "") -> str:
        """The proxy's address as a URL of `scheme` (`redis`, `postgresql+asyncpg`)."""
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def hang(self) -> None:
        """Stop moving bytes either way; connections stay open, new ones are accepted."""
        self._call(self._set_flowing(flowing=False))

    def refuse(self) -> None:
        """Cut every connection and refuse new ones."""
        self._call(self._stop())

    def resume(self) -> None:
        """Forward again (listening again after `refuse`)."""
        self._call(self._resume())

    def _call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=10)

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )

    async def _set_flowing(self, *, flowing: bool) -> None:
        assert self._flowing is not None
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _resume(self) -> None:
        if self._server is None:
            await self._start()
        await self._set_flowing(flowing=True)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _settle(self) -> None:
        """Let the aborted connections' tasks finish."""
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        try:
            server_reader, server = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._writers.update((client, server))
        await asyncio.gather(self._pipe(client_reader, server), self._pipe(server_reader, client))
        self._writers.difference_update((client, server))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        flowing = self._flowing
        assert flowing is not None
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                await flowing.wait()
                data = await reader.read(65536)
                if not data:
                    break
                await flowing.wait()  # bytes read before a hang are held, as a hung peer would
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
