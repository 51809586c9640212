"""The sealing of tablet ballots (ballots.box): a batch of ballots sealed with one key agreement, each with its own
nonce; every one opens with the round's key alone, none with another round's or another key."""

import pytest

from ballots import box

ROUND = 12
MARKS = [bytes([1, 2, 3, 0] * 10), bytes([3, 3, 1, 2] * 10), bytes([0, 0, 0, 1] * 10)]


def test_ballots_sealed_together_each_open_with_the_rounds_key_and_say_nothing_of_each_other():
    key = box.new_key()
    sealed = box.seal_batch(box.public_bytes(key), ROUND, MARKS)
    assert [box.unseal(key, ROUND, item) for item in sealed] == MARKS
    opener = box.Opener(key, ROUND)
    assert [opener.open(item) for item in sealed] == MARKS
    assert len({len(item) for item in sealed}) == 1  # the same length whatever the marks
    assert len({item[33:45] for item in sealed}) == len(MARKS)  # a nonce of its own each
    assert len({item[1:33] for item in sealed}) == 1  # one ephemeral key: one agreement for the batch


def test_a_sealed_ballot_opens_under_no_other_round_or_key_and_a_changed_byte_is_caught():
    key = box.new_key()
    sealed = box.seal_batch(box.public_bytes(key), ROUND, MARKS)
    for other_key, other_round in ((box.new_key(), ROUND), (key, ROUND + 1)):
        with pytest.raises(box.BoxTampered):
            box.Opener(other_key, other_round).open(sealed[0])
    changed = sealed[1][:-1] + bytes([sealed[1][-1] ^ 1])
    opener = box.Opener(key, ROUND)
    assert opener.open(sealed[0]) == MARKS[0]
    with pytest.raises(box.BoxTampered):
        opener.open(changed)  # the batch's cipher, already agreed, still checks each ballot's tag
    with pytest.raises(box.BoxTampered):
        opener.open(sealed[2][:20])


def test_batches_sealed_apart_use_keys_of_their_own():
    key = box.new_key()
    first, second = (box.seal_batch(box.public_bytes(key), ROUND, MARKS[:1]) for _ in range(2))
    assert first[0][1:33] != second[0][1:33]
    opener = box.Opener(key, ROUND)
    assert [opener.open(first[0]), opener.open(second[0])] == [MARKS[0], MARKS[0]]
