"""Cloudinary storage, chosen when `CONTACTS_KIT_CLOUDINARY_URL` is set.

The SDK is configured per call from our settings (never through its process-global
configuration) and, being synchronous, runs in a worker thread.
"""

from __future__ import annotations

import functools
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import anyio

from contacts_kit.backends.protocols import StorageError
from contacts_kit.errors import ConfigurationError
from contacts_kit.hookspecs import hookimpl
from contacts_kit.settings import Settings

AVATAR_TRANSFORMATION: dict[str, Any] = {"width": 250, "height": 250, "crop": "fill"}


def parse_cloudinary_url(url: str) -> dict[str, Any]:
    """Options of a `cloudinary://key:secret@cloud?option=value` URL, as the SDK names them."""
    parts = urlsplit(url)
    if parts.scheme != "cloudinary" or not parts.hostname or not parts.username:
        raise ConfigurationError(
            "CONTACTS_KIT_CLOUDINARY_URL must look like cloudinary://api_key:api_secret@cloud_name"
        )
    options: dict[str, Any] = {
        "cloud_name": parts.hostname,
        "api_key": unquote(parts.username),
        "api_secret": unquote(parts.password or ""),
    }
    for name, value in parse_qsl(parts.query):
        options[name] = {"true": True, "false": False}.get(value.lower(), value)
    return options


class CloudinaryStorage:
    """Uploads images and returns a 250x250 fill URL that carries the upload's version."""

    def __init__(self, options: dict[str, Any]) -> None:
        try:
            import cloudinary.uploader  # noqa: F401
        except ImportError as exc:
            raise ConfigurationError(
                "CONTACTS_KIT_CLOUDINARY_URL is set but cloudinary is missing: "
                "pip install 'contacts-kit[cloudinary]'"
            ) from exc
        self.options = options

    def _public_id(self, key: str) -> str:
        return str(PurePosixPath(key).with_suffix(""))

    async def save(self, key: str, data: bytes, content_type: str) -> str:
        """Upload `data` as the image `key` (without extension) and return its avatar URL."""
        import cloudinary.exceptions
        import cloudinary.uploader
        import cloudinary.utils

        upload = functools.partial(
            cloudinary.uploader.upload,
            data,
            public_id=self._public_id(key),
            overwrite=True,
            resource_type="image",
            **self.options,
        )
        try:
            result = await anyio.to_thread.run_sync(upload)
        except cloudinary.exceptions.Error as exc:
            raise StorageError(f"Cloudinary refused the upload: {exc}") from exc
        try:
            url, _ = cloudinary.utils.cloudinary_url(
                result["public_id"],
                version=result["version"],
                secure=True,
                **AVATAR_TRANSFORMATION,
                **self.options,
            )
        except KeyError as exc:
            raise StorageError(f"Cloudinary's reply lacks {exc}") from exc
        return str(url)

    async def delete(self, key: str) -> None:
        """Remove the image `key`."""
        import cloudinary.exceptions
        import cloudinary.uploader

        destroy = functools.partial(
            cloudinary.uploader.destroy,
            self._public_id(key),
            resource_type="image",
            invalidate=True,
            **self.options,
        )
        try:
            result = await anyio.to_thread.run_sync(destroy)
        except cloudinary.exceptions.Error as exc:
            raise StorageError(f"Cloudinary refused the deletion: {exc}") from exc
        if result.get("result") not in ("ok", "not found"):
            raise StorageError(f"Cloudinary did not delete {key}: {result}")


@hookimpl(trylast=True)
def provide_storage(settings: Settings) -> CloudinaryStorage | None:
    """Cloudinary when a URL is configured; otherwise let the local disk answer."""
    if settings.cloudinary_url is None:
        return None
    return CloudinaryStorage(parse_cloudinary_url(settings.cloudinary_url.get_secret_value()))
