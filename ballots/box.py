"""The sealed ballot box: a round's key pair, tablet ballots sealed to it when cast, the board's key cards.

Why: a cast spends its token and stores its ballot in one transaction, and whoever holds the database can join
the two through what that transaction leaves behind (PostgreSQL's xmin, the WAL, the order of cells in a SQLite
page). So a tablet ballot is never written readable when it is cast: it is sealed to the round's public key, and
only opened, after the close, by the counting board, whose members together hold the private key.

Sealing (format 1, "trustvote.box/1"): a fresh X25519 key pair for each batch of ballots sealed together (the
casts of one transaction, at most a group commit's batch); its agreement with the round's public key, through
HKDF-SHA256 (info "trustvote.box/1 round <id>"), gives a 256-bit AES-GCM key; each ballot's marks are encrypted
under it with a random 96-bit nonce of its own and the round's id as associated data. The sealed ballot is
    0x01 | ephemeral public key (32) | nonce (12) | ciphertext and tag (len(marks) + 16).
All the ballots of a round have the same length, so a sealed ballot says nothing of its marks. One agreement a
batch rather than one a ballot: the agreement was most of a cast's sealing cost; what the shared ephemeral key
tells (these ballots were cast in one transaction) the database's transaction ids tell already, and the sealed
rows are gone once the box is opened.

Key cards (thẻ khóa hòm phiếu): the round's 32-byte X25519 private key is split k of n with Shamir's scheme
(PyCryptodome, over GF(2^128): each 16-byte half split with the same indices), one share for each member of the
board and one recovery share for the direct upper-level committee. A card's code (format 1) is
    0x01 | round id (4, big-endian) | share index (1) | the two halves of the share (32)
in the same checked Crockford base32 as a ballot's code. The database keeps the public key and, for each card,
SHA-256 of its code's bytes (a commitment: a card can be checked alone, before the key is rebuilt), never a share.
"""

from __future__ import annotations

import hashlib
import secrets as random_source
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import tokens

VERSION = 1
_HEADER = bytes([VERSION])
_PUBLIC, _NONCE, _TAG = 32, 12, 16
CARD_BYTES = 1 + 4 + 1 + 32
CARD_PREFIX = "TVK1"  # what a card's QR holds before its code, so a ballot's QR is never taken for a card


class BoxTampered(Exception):
    """A sealed ballot that does not open under the round's key: changed, or sealed for another round."""


def new_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def public_bytes(key: X25519PrivateKey | X25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, X25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _private_bytes(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())


def _ballot_key(shared: bytes, round_id: int) -> AESGCM:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"trustvote.box/1 round {round_id}".encode()).derive(shared)
    return AESGCM(derived)


def _associated(round_id: int) -> bytes:
    return round_id.to_bytes(8, "big")


def seal_batch(public_key: bytes, round_id: int, batch: Sequence[bytes]) -> list[bytes]:
    """The marks of ballots cast together, each sealed to the round's public key (see the module's docstring)."""
    ephemeral = new_key()
    cipher = _ballot_key(ephemeral.exchange(X25519PublicKey.from_public_bytes(public_key)), round_id)
    prefix, associated = _HEADER + public_bytes(ephemeral), _associated(round_id)
    sealed = []
    for marks in batch:
        nonce = random_source.token_bytes(_NONCE)
        sealed.append(prefix + nonce + cipher.encrypt(nonce, marks, associated))
    return sealed


def seal(public_key: bytes, round_id: int, marks: bytes) -> bytes:
    """One ballot's marks sealed to the round's public key."""
    return seal_batch(public_key, round_id, [marks])[0]


class Opener:
    """Opens the sealed ballots of a round with its private key, agreeing once with each batch's ephemeral key."""

    def __init__(self, private_key: X25519PrivateKey, round_id: int) -> None:
        self._private_key, self._round_id = private_key, round_id
        self._ciphers: dict[bytes, AESGCM] = {}

    def open(self, sealed: bytes) -> bytes:
        """The marks of a sealed ballot of this round. Raises BoxTampered if it does not open."""
        if len(sealed) < 1 + _PUBLIC + _NONCE + _TAG or sealed[:1] != _HEADER:
            raise BoxTampered("not a sealed ballot")
        ephemeral = sealed[1:1 + _PUBLIC]
        nonce = sealed[1 + _PUBLIC:1 + _PUBLIC + _NONCE]
        try:
            cipher = self._ciphers.get(ephemeral)
            if cipher is None:
                shared = self._private_key.exchange(X25519PublicKey.from_public_bytes(ephemeral))
                cipher = self._ciphers[ephemeral] = _ballot_key(shared, self._round_id)
            return cipher.decrypt(nonce, sealed[1 + _PUBLIC + _NONCE:], _associated(self._round_id))
        except (InvalidTag, ValueError):
            raise BoxTampered("the sealed ballot does not open under the round's key") from None


def unseal(private_key: X25519PrivateKey, round_id: int, sealed: bytes) -> bytes:
    """The marks of one sealed ballot of this round. Raises BoxTampered if it does not open."""
    return Opener(private_key, round_id).open(sealed)


def digest(sealed_ballots: Iterable[bytes]) -> str:
    """SHA-256 over the sealed ballots in sorted order, each preceded by its length: what the close records, so
    that the set opened later is the set that was closed (order-free: it says nothing of the casting order)."""
    total = hashlib.sha256()
    for sealed in sorted(sealed_ballots):
        total.update(len(sealed).to_bytes(4, "big") + sealed)
    return total.hexdigest()


@dataclass(frozen=True)
class Card:
    """One key card: the round, the share's index and the share (32 bytes). Exists only on paper after issue."""

    round_id: int
    index: int
    share: bytes

    @property
    def raw(self) -> bytes:
        return _HEADER + self.round_id.to_bytes(4, "big") + bytes([self.index]) + self.share

    @property
    def code(self) -> str:
        """The card's typed code (grouped by four with tokens.grouped when printed)."""
        return tokens.encode(self.raw)

    @property
    def payload(self) -> str:
        """What the card's QR holds."""
        return f"{CARD_PREFIX}.{self.code}"

    @property
    def commitment(self) -> str:
        return commitment_of(self.raw)


def commitment_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def split_key(key: X25519PrivateKey, *, round_id: int, needed: int, cards: int) -> list[Card]:
    """Split the round's private key into `cards` cards, any `needed` of which rebuild it."""
    private = _private_bytes(key)
    halves = [Shamir.split(needed, cards, private[:16]), Shamir.split(needed, cards, private[16:])]
    return [Card(round_id, index, first + second)
            for (index, first), (_same, second) in zip(halves[0], halves[1], strict=True)]


def parse_card(text: str) -> Card:
    """The card a scanned QR or a typed code stands for. Raises ValueError for anything that is not one (a typo
    included: the check character catches every single wrong character)."""
    text = (text or "").strip()
    if text.upper().startswith(CARD_PREFIX + "."):
        text = text[len(CARD_PREFIX) + 1:]
    raw = tokens.decode(text, CARD_BYTES)
    if raw[:1] != _HEADER or raw[5] == 0:
        raise ValueError("not a key card")
    return Card(int.from_bytes(raw[1:5], "big"), raw[5], raw[6:])


def combine(cards: Sequence[Card]) -> X25519PrivateKey:
    """The private key rebuilt from enough cards (each a different share). The caller checks it against the
    round's public key: too few or wrong shares rebuild another key, they raise nothing here."""
    first = Shamir.combine([(c.index, c.share[:16]) for c in cards])
    second = Shamir.combine([(c.index, c.share[16:]) for c in cards])
    return X25519PrivateKey.from_private_bytes(first + second)
