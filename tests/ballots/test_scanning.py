"""Camera frames: their size is read from their own header before Pillow decodes anything."""

import io
import struct

import pytest
from PIL import Image

from ballots import printing, scanning, tokens
from ballots.errors import InvalidInput


def encoded(image: Image.Image, format: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=format, **options)
    return out.getvalue()


def qr_frame(code: str, format: str = "JPEG") -> bytes:
    side, modules = printing.qr_modules(tokens.payload_of_code("https://bauphieu.example.vn", code))
    frame = Image.new("L", (side * 8, side * 8), 255)
    frame.paste(Image.frombytes("L", (side, side), modules).resize((side * 6, side * 6), Image.Resampling.NEAREST),
                (side, side))
    return encoded(frame.convert("RGB"), format)


@pytest.mark.parametrize("format,options", [("JPEG", {}), ("JPEG", {"progressive": True}), ("PNG", {})])
def test_the_header_gives_the_size_without_decoding(format, options):
    data = encoded(Image.new("RGB", (641, 479), "white"), format, **options)
    assert scanning.frame_size(data) == (format, 641, 479)


def test_a_qr_in_a_frame_is_read():
    code = tokens.code_of(bytes(range(16)))
    for format in ("JPEG", "PNG"):
        assert scanning.read_qr(qr_frame(code, format)).endswith(code)


def test_a_huge_jpeg_of_a_few_hundred_kilobytes_is_refused_before_pillow_opens_it(monkeypatch):
    huge = encoded(Image.new("L", (4096, 4096), 255), "JPEG", quality=10)
    assert len(huge) < 400_000
    monkeypatch.setattr(scanning.Image, "open", lambda *a, **k: pytest.fail("Pillow saw a frame too large"))
    with pytest.raises(InvalidInput, match="too large"):
        scanning.read_qr(huge)


def test_a_png_that_lies_about_its_size_is_refused():
    """A header that says a small picture over data of a large one: Pillow's own reading must agree."""
    small_header = encoded(Image.new("L", (100, 100), 0), "PNG")
    big = encoded(Image.new("L", (3000, 3000), 0), "PNG")
    forged = big[:16] + struct.pack(">II", 100, 100) + big[24:]
    with pytest.raises(InvalidInput):
        scanning.read_qr(forged)
    assert scanning.read_qr(small_header) is None


@pytest.mark.parametrize("data", [b"", b"\xff\xd8", b"\xff\xd8\xff\xda\x00\x02", b"\x89PNG\r\n\x1a\n\x00",
                                  b"GIF89a" + bytes(20), b"RIFF\x00\x00\x00\x00WEBPVP8 "])
def test_anything_but_a_jpeg_or_png_header_is_refused(data):
    with pytest.raises(InvalidInput):
        scanning.read_qr(data)
