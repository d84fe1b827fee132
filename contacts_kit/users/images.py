"""Recognizing uploaded images by their bytes, not by what the client claims."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

# Pillow format name -> (content type, file extension)
FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
    "GIF": ("image/gif", "gif"),
}
MAX_PIXELS = 40_000_000


class NotAnImage(ValueError):
    """The bytes are not a complete PNG, JPEG, WebP or GIF image."""


def identify(data: bytes) -> tuple[str, str]:
    """(content type, extension) of a real, decodable image; `NotAnImage` otherwise.

    The signature alone is not trusted: the image is decoded, so a PNG header followed by
    random bytes, a truncated file or a decompression bomb is refused.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise NotAnImage("the image has too many pixels")
                kind = image.format
                image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NotAnImage(str(exc)) from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise NotAnImage("the image has too many pixels") from exc
    if kind not in FORMATS:
        raise NotAnImage(f"unsupported image format {kind}")
    return FORMATS[kind]
