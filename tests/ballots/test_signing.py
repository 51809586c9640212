"""Signing: the RFC 8032 test vectors pass through the app's own signing code; tampering fails."""

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app.settings import init_instance
from ballots import signing

# RFC 8032, section 7.1: TEST 1 (empty message) and TEST 2 (one byte)
VECTORS = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24"
     "655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aee"
     "b00d291612bb0c00"),
]


@pytest.mark.parametrize("secret,public,message,signature", VECTORS)
def test_the_rfc_8032_vectors_pass_through_the_apps_signing_code(secret, public, message, signature):
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    assert signing.public_bytes(key).hex() == public
    signed = signing.sign(key, bytes.fromhex(message))
    assert base64.b64decode(signed).hex() == signature
    assert signing.verify(bytes.fromhex(public), bytes.fromhex(message), signed)


def test_a_changed_message_or_signature_or_key_fails(tmp_path):
    init_instance(tmp_path)
    key = signing.load_private_key(tmp_path / "signing_key.pem")
    message = '{"kết_quả":"niêm phong"}'.encode()
    signed = signing.sign(key, message)
    public = signing.public_bytes(key)
    assert signing.verify(public, message, signed)
    assert not signing.verify(public, message + b" ", signed)
    flipped = bytearray(base64.b64decode(signed))
    flipped[0] ^= 1
    assert not signing.verify(public, message, base64.b64encode(bytes(flipped)).decode())
    other = signing.public_bytes(Ed25519PrivateKey.generate())
    assert not signing.verify(other, message, signed)
    assert not signing.verify(public, message, "not base64!")
    assert len(signing.fingerprint(key)) == 64
