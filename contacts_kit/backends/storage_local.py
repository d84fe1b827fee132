"""Local-disk storage: the embedded default. The kit's router serves the folder itself, so the
URL of a file depends on where the host mounted the kit: `save` returns the file's key as a
relative reference, which the kit turns into a URL under its media route."""

from __future__ import annotations

import re
from pathlib import Path

import anyio

from contacts_kit.backends.protocols import StorageError
from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings

_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")


class LocalStorage:
    """Stores files under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"unsafe storage key: {key!r}")
        return self.root / key

    async def save(self, key: str, data: bytes, content_type: str) -> str:
        """Write the file atomically (temporary file, then rename); return its key."""
        path = self._path(key)
        tmp = path.with_name(path.name + ".part")

        def _write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            tmp.replace(path)

        try:
            await anyio.to_thread.run_sync(_write)
        except OSError as exc:
            raise StorageError(f"could not write the file: {exc.strerror}") from exc
        return key

    async def delete(self, key: str) -> None:
        """Remove the file if present (its URL then answers 404)."""
        path = self._path(key)
        try:
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))
        except OSError as exc:
            raise StorageError(f"could not delete the file: {exc.strerror}") from exc


@hookimpl(trylast=True)
def provide_storage(settings: Settings) -> LocalStorage:
    """The fallback storage when no other plugin provides one."""
    return LocalStorage(settings.media_dir)
