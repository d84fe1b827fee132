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


GPS_IFD = 0x8825
MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112


def photo_with_metadata(kind: str = "JPEG", size: tuple[int, int] = (40, 20)) -> bytes:
    """A photo as a phone takes it: EXIF with the camera and a GPS position, an orientation
    tag (rotated 90 degrees), an ICC profile and an XMP packet."""
    from PIL import ImageCms

    image = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[MAKE] = "PhoneMaker"
    exif[MODEL] = "Pocket 12 Pro"
    exif[ORIENTATION] = 6  # display rotated 90 degrees clockwise
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>Secret Place</rdf:RDF></x:xmpmeta>'
    buffer = io.BytesIO()
    image.save(buffer, format=kind, exif=exif.tobytes(), icc_profile=icc, xmp=xmp)
    return buffer.getvalue()


def metadata_of(data: bytes) -> dict[str, object]:
    """What an image file carries besides its pixels."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        return {
            "exif": dict(exif),
            "gps": dict(exif.get_ifd(GPS_IFD)),
            "icc": image.info.get("icc_profile"),
            "xmp": image.info.get("xmp") or image.info.get("XML:com.adobe.xmp"),
            "size": image.size,
            "format": image.format,
        }
