"""Ballot tokens: 128-bit secrets, their hashes, the short code a person types, and the QR payload.

The short code (format 1) is the secret itself, written in Crockford's base32 alphabet (no I, L, O, U):
26 characters for the 128 bits (the two spare bits are zero), then one check character computed with the
Luhn mod 32 algorithm, which catches every single-character typo and most swaps of neighbours, so a typo is
refused before any lookup. A ballot prints it in groups of three, ``ABC DEF GHJ KMN PQR STV WXY Z01 234``
(ballots.printing); a key card in groups of four with dashes (``grouped``). Spaces and dashes are ignored when typed.

The QR payload (format 1) is ``{BASE_URL}/b#1.{CODE}`` with the 27 characters of the code and no dashes. The
secret travels in the URL fragment, which a browser never sends to a server: scanning the QR with any tablet's
camera app opens the kiosk page, which reads the fragment and posts the code in a request body.
"""

from __future__ import annotations

import hashlib
import secrets as random_source
from collections.abc import Iterable

from .errors import N_, InvalidInput

SECRET_BYTES = 16
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
# what people type for the characters the alphabet leaves out
_VALUE.update({"O": 0, "I": 1, "L": 1})
BODY_LENGTH = 26  # ceil(128 / 5)
CODE_LENGTH = BODY_LENGTH + 1
PAYLOAD_VERSION = "1"
PAYLOAD_PATH = "/b#"


class MalformedCode(InvalidInput):
    message = N_("This ballot code is not valid: check it and type it again.")


def new_secret() -> bytes:
    return random_source.token_bytes(SECRET_BYTES)


def hash_secret(secret: bytes) -> bytes:
    """What the database keeps instead of the secret."""
    return hashlib.sha256(secret).digest()


def _luhn_sum(values: list[int], *, double_rightmost: bool) -> int:
    """Luhn mod 32: from the right, every second value doubled (its base-32 digits summed), all added up."""
    total = 0
    for position, value in enumerate(reversed(values)):
        if position % 2 == (0 if double_rightmost else 1):
            value *= 2
            value = value // 32 + value % 32
        total += value
    return total % 32


def _check_character(values: list[int]) -> int:
    # the check value will stand rightmost, so the body's rightmost value is the first one doubled
    return (32 - _luhn_sum(values, double_rightmost=True)) % 32


def _luhn_valid(values: list[int]) -> bool:
    return _luhn_sum(values, double_rightmost=False) == 0


def encode(data: bytes) -> str:
    """Bytes as Crockford base32 digits (the spare high bits zero), then one Luhn mod 32 check character."""
    length = -(-8 * len(data) // 5)
    number = int.from_bytes(data, "big")
    values = [(number >> (5 * shift)) & 31 for shift in reversed(range(length))]
    values.append(_check_character(values))
    return "".join(ALPHABET[v] for v in values)


def decode(text: str, size: int) -> bytes:
    """The `size` bytes that `encode` wrote as `text` (dashes, spaces, line breaks and case ignored: a code copied
    from its printed lines reads too; O, I and L read as 0, 1 and 1). Raises ValueError for anything else: a wrong
    length, a character outside the alphabet, a failed check character (every single-character typo), or spare
    bits that are not zero."""
    cleaned = "".join(ch for ch in text.upper() if ch not in "- \t\r\n")
    length = -(-8 * size // 5)
    if len(cleaned) != length + 1 or any(ch not in _VALUE for ch in cleaned):
        raise ValueError("not a code of this length")
    values = [_VALUE[ch] for ch in cleaned]
    if not _luhn_valid(values):
        raise ValueError("the check character does not match")
    number = 0
    for value in values[:length]:
        number = number << 5 | value
    if number >> (8 * size):
        raise ValueError("the spare bits are not zero")
    return number.to_bytes(size, "big")


def code_of(secret: bytes) -> str:
    """The 27-character code of a secret, without dashes."""
    return encode(secret)


def grouped(code: str, size: int = 4) -> str:
    return "-".join(code[i:i + size] for i in range(0, len(code), size))


def secret_of(text: str) -> bytes:
    """The secret a typed or scanned code stands for. Raises MalformedCode for anything else, typo included.

    Accepts the code with or without dashes and spaces, in any case, and a whole QR payload or its fragment.
    """
    text = (text or "").strip()
    if "#" in text:
        text = text.rsplit("#", 1)[1]
    if text.startswith(PAYLOAD_VERSION + "."):
        text = text[len(PAYLOAD_VERSION) + 1:]
    try:
        return decode(text, SECRET_BYTES)
    except ValueError:
        raise MalformedCode() from None


def qr_payload(base_url: str, secret: bytes) -> str:
    return payload_of_code(base_url, code_of(secret))


def payload_of_code(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}{PAYLOAD_PATH}{PAYLOAD_VERSION}.{code}"


def commitment(token_hashes: Iterable[bytes]) -> str:
    """The round's commitment to its tokens: SHA-256 over the sorted token hashes."""
    digest = hashlib.sha256()
    for token_hash in sorted(token_hashes):
        digest.update(token_hash)
    return digest.hexdigest()
