"""Reading a QR code from a camera frame, for tablets whose browser has no BarcodeDetector.

A frame is a JPEG or a PNG of at most MAX_FRAME_PIXELS (the kiosk's script sends frames at most 960 pixels wide).
Its size is read from its own header here, before Pillow sees a byte of it, so that a small file declaring a huge
image (a 4096 × 4096 JPEG is 257 KB) is refused without decoding anything; then it is decoded straight to
grey levels, which is all the QR reader needs. The caller bounds how many frames a process decodes at once
(app.limits).
"""

from __future__ import annotations

import io
import struct

import zxingcpp
from PIL import Image, UnidentifiedImageError

from .errors import N_, InvalidInput

MAX_FRAME_PIXELS = 1920 * 1080
MAX_FRAME_SIDE = 4096
NOT_A_FRAME = N_("Send one camera frame, a JPEG or PNG image of at most 2 MB.")
TOO_MANY_PIXELS = N_("The camera frame is too large: send at most %(pixels)s pixels (the kiosk's page does).")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# start-of-frame markers of JPEG (baseline, progressive, lossless, arithmetic): the ones that carry the size
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}


def frame_size(data: bytes) -> tuple[str, int, int]:
    """The format ("JPEG" or "PNG"), width and height a frame's header declares, read without decoding it.
    Raises InvalidInput for anything else or a header that does not say."""
    try:
        if data.startswith(PNG_SIGNATURE):
            length, kind, width, height = struct.unpack(">I4sII", data[8:24])
            if kind != b"IHDR" or length != 13:
                raise InvalidInput(NOT_A_FRAME)
            return "PNG", width, height
        if data.startswith(b"\xff\xd8"):
            return ("JPEG", *_jpeg_size(data))
    except struct.error:
        pass
    raise InvalidInput(NOT_A_FRAME)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            break
        (length,) = struct.unpack(">H", data[at + 2:at + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + length
    raise InvalidInput(NOT_A_FRAME)


def check_frame(data: bytes) -> str:
    """The frame's format, once its header shows it is small enough to decode. Raises InvalidInput."""
    kind, width, height = frame_size(data)
    if not width or not height:
        raise InvalidInput(NOT_A_FRAME)
    if width > MAX_FRAME_SIDE or height > MAX_FRAME_SIDE or width * height > MAX_FRAME_PIXELS:
        raise InvalidInput(TOO_MANY_PIXELS, pixels=f"{MAX_FRAME_PIXELS:,}".replace(",", "."))
    return kind


def read_qr(data: bytes) -> str | None:
    """The text of the first QR code in the frame, or None. Raises InvalidInput for something not a frame, or too
    large a one (checked before decoding)."""
    kind = check_frame(data)
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if image.size[0] * image.size[1] > MAX_FRAME_PIXELS:  # what Pillow read agrees with the header
                raise InvalidInput(NOT_A_FRAME)
            image.draft("L", image.size)  # JPEG: decoded straight to grey levels, a third of the memory
            found = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise InvalidInput(NOT_A_FRAME) from None
    return found[0].text if found else None
