"""Images for the tests, made with Pillow."""

from __future__ import annotations

import io
import os

from PIL import Image


def png_bytes(size: tuple[int, int] = (8, 8), kind: str = "PNG", noise: bool = False) -> bytes:
    """A valid image; with `noise` it barely compresses, so its size follows `size`."""
    if noise:
        image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    else:
        image = Image.new("RGB", size, (200, 40, 90))
    buffer = io.BytesIO()
    image.save(buffer, format=kind)
    return buffer.getvalue()
