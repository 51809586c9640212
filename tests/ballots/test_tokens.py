"""Ballot tokens without a database: the short code and its check character, the QR payload, the commitment."""

import base64
import hashlib
import random

import pytest

from ballots import tokens
from ballots.errors import InvalidInput

# fixed secrets, so that a failure names a reproducible code, and random ones from a seeded generator
ZERO = bytes(16)
ONES = b"\xff" * 16
SEEDED = [random.Random(seed).randbytes(16) for seed in range(6)]
SECRETS = [ZERO, ONES, *SEEDED]
BASE_URL = "https://bau.dangbo.example.vn"


def _secret_ids(secret):
    return secret.hex()


def test_a_new_secret_is_16_random_bytes_and_its_hash_is_its_sha256():
    first, second = tokens.new_secret(), tokens.new_secret()
    assert len(first) == len(second) == 16 and first != second
    assert tokens.hash_secret(first) == hashlib.sha256(first).digest() and len(tokens.hash_secret(first)) == 32


@pytest.mark.parametrize("secret", SECRETS, ids=_secret_ids)
def test_a_code_is_27_characters_of_the_alphabet_and_reads_back_as_its_secret(secret):
    code = tokens.code_of(secret)
    # 26 characters of 5 bits carry the 128 bits (128 = 3 + 25 * 5: the first holds the top 3), then 1 check
    assert len(code) == 27 and set(code) <= set(tokens.ALPHABET)
    assert tokens.secret_of(code) == secret


def test_the_code_of_zero_is_all_zeros_with_a_zero_check_character():
    # every value is 0, so the Luhn sum is 0 and the check value is (32 - 0 % 32) % 32 = 0
    assert tokens.code_of(ZERO) == "0" * 27


def test_the_first_character_of_a_code_holds_only_the_top_3_bits():
    # 128 bits in 26 characters of 5 bits: 26 * 5 - 128 = 2 spare bits, so the first character is 0..7
    assert tokens.code_of(ONES)[0] == "7"
    assert all(tokens.code_of(secret)[0] in "01234567" for secret in SECRETS)


@pytest.mark.parametrize("secret", SECRETS, ids=_secret_ids)
def test_a_grouped_code_is_groups_of_four_and_reads_back(secret):
    code = tokens.code_of(secret)
    shown = tokens.grouped(code)
    # 27 characters: 6 groups of 4 and one of 3, joined by 6 dashes = 33 characters
    assert len(shown) == 33 and [len(group) for group in shown.split("-")] == [4, 4, 4, 4, 4, 4, 3]
    assert shown.replace("-", "") == code
    assert tokens.secret_of(shown) == secret


@pytest.mark.parametrize("secret", SECRETS, ids=_secret_ids)
def test_a_code_is_read_in_every_form_a_person_or_a_camera_gives_it(secret):
    code = tokens.code_of(secret)
    shown = tokens.grouped(code)
    forms = [
        code,
        shown,
        shown.lower(),
        code.lower(),
        shown.replace("-", " "),
        "  " + shown.replace("-", " - ") + "\t",
        "\t".join(code[i:i + 4] for i in range(0, 27, 4)),
        "\r\n".join(code[i:i + 9] for i in range(0, 27, 9)),  # copied from the ballot's three printed lines
        f"{BASE_URL}/b#1.{code}",  # the whole QR payload
        f"1.{code}",  # the fragment the kiosk page reads
        f"#1.{code}",
        f"1.{code.lower()}",
    ]
    for form in forms:
        assert tokens.secret_of(form) == secret, form


def test_o_is_read_as_zero_and_i_and_l_as_one():
    secret = tokens.secret_of("0" * 27)
    assert secret == ZERO
    assert tokens.secret_of("O" * 27) == ZERO and tokens.secret_of("o" * 27) == ZERO
    # a code containing 0s and 1s, typed with O, I and L in their place (and lower case), means the same
    for secret in SECRETS:
        code = tokens.code_of(secret)
        if not {"0", "1"} & set(code):
            continue
        typed = "".join({"0": "O", "1": "I"}.get(ch, ch) for ch in code)
        assert tokens.secret_of(typed) == secret
        assert tokens.secret_of(typed.replace("I", "L")) == secret
        assert tokens.secret_of(typed.replace("I", "l").replace("O", "o")) == secret
    # a secret whose code certainly has both: 0x01 in the last byte is ...00001 in the last 5-bit group
    one = tokens.code_of(b"\x00" * 15 + b"\x20")  # 0x20 = 32: the last group is 0, the one before it 1
    assert one[24:26] == "10"
    assert tokens.secret_of(one[:24] + "LO" + one[26:]) == b"\x00" * 15 + b"\x20"


@pytest.mark.parametrize("secret", SECRETS, ids=_secret_ids)
def test_the_check_character_catches_every_single_character_typo(secret):
    code = tokens.code_of(secret)
    caught = 0
    for position in range(27):
        for wrong in tokens.ALPHABET:
            if wrong == code[position]:
                continue
            typo = code[:position] + wrong + code[position + 1:]
            with pytest.raises(tokens.MalformedCode):
                tokens.secret_of(typo)
            caught += 1
    # 27 positions * 31 other characters of the 32-character alphabet
    assert caught == 27 * 31 == 837


@pytest.mark.parametrize("secret", SECRETS, ids=_secret_ids)
def test_a_typo_with_a_left_out_letter_that_changes_the_value_is_caught(secret):
    code = tokens.code_of(secret)
    # O stands for 0 and I, L for 1: each is a typo where the code has another character; U never is valid
    stands_for = {"O": "0", "I": "1", "L": "1", "U": None}
    for position in range(27):
        for letter, value in stands_for.items():
            if code[position] == value:
                continue  # the same value: not a typo
            typo = code[:position] + letter + code[position + 1:]
            for written in (typo, typo.lower()):
                with pytest.raises(tokens.MalformedCode):
                    tokens.secret_of(written)


@pytest.mark.parametrize("secret", SECRETS, ids=_secret_ids)
def test_a_code_too_short_or_too_long_is_refused(secret):
    code = tokens.code_of(secret)
    for wrong in (code[:-1], code[1:], code[:26], code + "0", code + code[-1], "", code[:4], code * 2):
        with pytest.raises(tokens.MalformedCode):
            tokens.secret_of(wrong)
    with pytest.raises(tokens.MalformedCode):
        tokens.secret_of(tokens.grouped(code)[:-2])  # the grouped code less its last character


@pytest.mark.parametrize("outside", ["U", "u", "*", ".", "_", "+", "/", "=", "Đ", "ư", "Ơ", "é", "\u00a0", "０"])
def test_a_character_outside_the_alphabet_is_refused(outside):
    code = tokens.code_of(SEEDED[0])
    for position in (0, 13, 26):
        with pytest.raises(tokens.MalformedCode):
            tokens.secret_of(code[:position] + outside + code[position + 1:])


def test_nothing_and_none_are_refused():
    for text in ("", "   ", "-", "#", "1.", f"{BASE_URL}/b#", None):
        with pytest.raises(tokens.MalformedCode):
            tokens.secret_of(text)


def test_a_payload_of_another_format_version_is_refused():
    code = tokens.code_of(SEEDED[1])
    with pytest.raises(tokens.MalformedCode):
        tokens.secret_of(f"{BASE_URL}/b#2.{code}")


def test_a_code_over_128_bits_is_refused_even_with_a_valid_check_character():
    # the first character may be 0..7 only (3 bits): "8" followed by zeros is 8 << 125 = 2^128, one bit too many.
    # Build its check character the way code_of does, so only the range check can refuse it.
    values = [8] + [0] * 25
    body = "8" + "0" * 25
    code = body + tokens.ALPHABET[tokens._check_character(values)]
    with pytest.raises(tokens.MalformedCode):
        tokens.secret_of(code)


def test_a_malformed_code_is_invalid_input_with_a_message():
    with pytest.raises(InvalidInput) as refused:
        tokens.secret_of("ABCD")
    assert isinstance(refused.value, tokens.MalformedCode) and refused.value.status == 400
    assert str(refused.value) == "This ballot code is not valid: check it and type it again."


def test_the_commitment_is_the_sha256_of_the_sorted_hashes():
    hashes = [tokens.hash_secret(secret) for secret in SECRETS]
    expected = hashlib.sha256(b"".join(sorted(hashes))).hexdigest()
    assert tokens.commitment(hashes) == expected and len(expected) == 64


def test_the_commitment_does_not_depend_on_the_order_of_the_hashes():
    hashes = [tokens.hash_secret(secret) for secret in SECRETS]
    shuffled = hashes[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != hashes
    assert tokens.commitment(hashes) == tokens.commitment(shuffled) == tokens.commitment(reversed(hashes))
    assert tokens.commitment(iter(hashes)) == tokens.commitment(hashes)  # any iterable, read once


def test_the_commitment_changes_when_any_hash_changes_or_goes():
    hashes = [tokens.hash_secret(secret) for secret in SECRETS]
    original = tokens.commitment(hashes)
    for index in range(len(hashes)):
        changed = hashes[:]
        changed[index] = bytes([changed[index][0] ^ 1]) + changed[index][1:]
        assert tokens.commitment(changed) != original
        assert tokens.commitment(hashes[:index] + hashes[index + 1:]) != original
    assert tokens.commitment(hashes + [tokens.hash_secret(b"\x01" * 16)]) != original


def test_the_qr_payload_carries_the_code_only_after_the_hash_sign():
    secret = SEEDED[2]
    code = tokens.code_of(secret)
    payload = tokens.qr_payload(BASE_URL, secret)
    assert payload == f"{BASE_URL}/b#1.{code}"
    before, fragment = payload.split("#")
    # nothing of the secret before the '#': neither the code, nor its hex, nor its base64
    for form in (code, code.lower(), secret.hex(), base64.b64encode(secret).decode().rstrip("="),
                 base64.urlsafe_b64encode(secret).decode().rstrip("=")):
        assert form not in before
    assert fragment == f"1.{code}" and "?" not in payload
    assert tokens.secret_of(payload) == secret


def test_the_qr_payload_has_one_slash_before_b_whatever_the_base_url_ends_with():
    secret = SEEDED[3]
    code = tokens.code_of(secret)
    assert tokens.qr_payload(BASE_URL + "/", secret) == f"{BASE_URL}/b#1.{code}"
    assert tokens.qr_payload("https://10.0.0.5:8443", secret) == f"https://10.0.0.5:8443/b#1.{code}"
    assert tokens.payload_of_code(BASE_URL, code) == tokens.qr_payload(BASE_URL, secret)
