"""Recognizing uploaded images by their bytes, not by what the client claims."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

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


class ImageTooLarge(NotAnImage):
    """An image, but of more pixels than the kit decodes (`MAX_PIXELS`)."""


def _too_large(width: int, height: int) -> ImageTooLarge:
    return ImageTooLarge(f"{width}x{height} pixels, more than the {MAX_PIXELS:,} an image may have")


def clean_copy(data: bytes) -> tuple[bytes, str, str]:
    """The image re-encoded from its pixels alone: no EXIF (a GPS position, the camera), no
    XMP, no ICC profile or text chunks survive; EXIF orientation is applied first, so the
    picture still shows the right way up. (bytes, content type, extension); `NotAnImage` when
    the bytes are not a complete PNG, JPEG, WebP or GIF image."""
    content_type, extension = identify(data)
    with Image.open(io.BytesIO(data), formats=list(FORMATS)) as original:
        kind = original.format or "PNG"
        upright = ImageOps.exif_transpose(original)  # the first frame of an animation
        pixels = (
            upright.convert("RGB")
            if kind == "JPEG" and upright.mode not in ("RGB", "L")
            else upright
        )
        clean = Image.new(pixels.mode, pixels.size)
        clean.paste(pixels)
        if pixels.mode == "P" and pixels.getpalette():
            clean.putpalette(pixels.getpalette() or [])
            if "transparency" in pixels.info:
                clean.info["transparency"] = pixels.info["transparency"]
    output = io.BytesIO()
    options: dict[str, object] = {"quality": 90} if kind in ("JPEG", "WEBP") else {}
    clean.save(output, format=kind, **options)
    return output.getvalue(), content_type, extension


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
                    raise _too_large(image.width, image.height)
                kind = image.format
                image.load()
    except ImageTooLarge:
        raise
    except UnidentifiedImageError as exc:
        # Pillow's message names a Python object (`<_io.BytesIO object at 0x...>`).
        raise NotAnImage("the bytes are not an image of a known format") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise NotAnImage("the image is damaged or cut short") from exc
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise ImageTooLarge(f"more pixels than the {MAX_PIXELS:,} an image may have") from exc
    if kind not in FORMATS:
        raise NotAnImage(f"unsupported image format {kind}")
    return FORMATS[kind]
