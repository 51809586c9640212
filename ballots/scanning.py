"""Reading a QR code from a camera frame, for tablets whose browser has no BarcodeDetector."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError

from .errors import N_, InvalidInput

MAX_PIXELS = 4096 * 4096


def read_qr(data: bytes) -> str | None:
    """The text of the first QR code in the image, or None. Raises InvalidInput for something not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG", "WEBP") or image.width * image.height > MAX_PIXELS:
                raise InvalidInput(N_("Send one camera frame, a JPEG or PNG image of at most 2 MB."))
            image.load()
            found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise InvalidInput(N_("Send one camera frame, a JPEG or PNG image of at most 2 MB.")) from None
    return found[0].text if found else None
