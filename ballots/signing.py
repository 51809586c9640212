"""Signing results with the instance's Ed25519 key, and checking signatures (RFC 8032 through `cryptography`).

The key is the PEM file `trustvote init` writes into the instance folder (mode 600). A key's fingerprint, the
SHA-256 of its raw 32-byte public key in hex, is what the minutes print so that anyone can check a result
offline against the public key the committee publishes.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    return hashlib.sha256(public_bytes(key)).hexdigest()


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """The signature of `message`, base64 (standard alphabet, padded)."""
    return base64.b64encode(key.sign(message)).decode()


def verify(public_key: bytes, message: bytes, signature: str) -> bool:
    """Whether `signature` (base64) is the Ed25519 signature of `message` under the raw 32-byte public key."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
