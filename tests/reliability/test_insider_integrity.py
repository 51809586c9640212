"""Integrity between the close and the seal, against an insider who writes to the database with its triggers
dropped (DESIGN.md: "any change they make between the close and the seal must be caught before the seal").

- A SEALED ballot edited, added or removed after the close is caught when the board opens the box (the sealed set
  is checked against the close record: SealedSetChanged; a sealed ballot that does not open: SealedBallotTampered),
  and nothing is opened.
- An OPENED ballot edited, added or removed after the opening is caught at the count and at the seal (the opened
  set is checked against what the opening recorded: OpenedSetChanged, OpenedBallotChanged). Control: with that
  check switched off (`ballot_box.check_opened` doing nothing) the changed ballot is counted.
- The same changes made by an insider who also rewrites the box's records (the close record and the opening's
  count and digest live in the `ballot_box` row, which the same insider can write) must be caught too.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets as random_source

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.settings import SIGNING_KEY_FILE
from ballots import ballot_box, box, counting, results, sealing, signing
from ballots.errors import (
    BoxRecordTampered,
    OpenedBallotChanged,
    OpenedSetChanged,
    SealedBallotTampered,
    SealedSetChanged,
)
from ballots.models import Ballot, BallotBox, Result, Round, SealedBallot
from ballots.tally import Sheet
from tests.conftest import fresh
from tests.factories import make_round

from .insider import as_insider

TABLET = (b"\x01\x01\x03\x02", b"\x01\x02\x03\x02", b"\x02\x03\x03\x01", b"\x03\x03\x01\x01", b"\x01\x01\x01\x01")
STUFFED = b"\x03\x03\x03\x03"  # what the insider wants counted: low trust in every candidate
BOX_ERRORS = (SealedSetChanged, SealedBallotTampered, OpenedSetChanged, OpenedBallotChanged, BoxRecordTampered)


def _round(session, world, until: str, open_box: bool = True):
    return make_round(session, world, until=until, open_box=open_box, issue=6, tablet=TABLET)


def _sealed_rows(session, round_id: int) -> list[tuple[bytes, bytes]]:
    query = select(SealedBallot.id, SealedBallot.sealed).where(SealedBallot.round_id == round_id)
    return [(bytes(i), bytes(s)) for i, s in fresh(session).execute(query.order_by(SealedBallot.id))]


def _opened_rows(session, round_id: int) -> list[tuple[bytes, bytes]]:
    return [(bytes(i), bytes(m)) for i, m in fresh(session).execute(
        select(Ballot.id, Ballot.marks).where(Ballot.round_id == round_id).order_by(Ballot.id))]


def _board_key(built):
    return box.combine([box.parse_card(card) for card in built.cards()])


def _verify(db_url, instance) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, ["audit", "verify"],
                                 env={"TRUSTVOTE_DATABASE_URL": db_url, "TRUSTVOTE_INSTANCE": str(instance)})
    return outcome.exit_code, outcome.output


def _signing_key(instance):
    return signing.load_private_key(instance / SIGNING_KEY_FILE)


# --- the sealed ballots, between the close and the opening ----------------------------------------------------


def _change_sealed(session, built, change: str) -> dict:
    """Make the change to the sealed ballots; return the parameters used."""
    rows = _sealed_rows(session, built.id)
    public_key = ballot_box.box_of(session, session.get(Round, built.id)).public_key
    target_id, target = rows[0]
    params = {"id": target_id, "round": built.id, "new": random_source.token_bytes(16),
              "changed": target[:-1] + bytes([target[-1] ^ 1]),
              "stuffed": box.seal(public_key, built.id, STUFFED)}
    statement = {
        "edit": "UPDATE sealed_ballot SET sealed = :changed WHERE id = :id",
        "insert": "INSERT INTO sealed_ballot (id, round_id, sealed) VALUES (:new, :round, :stuffed)",
        "delete": "DELETE FROM sealed_ballot WHERE id = :id",
    }[change]
    as_insider(session.get_bind(), statement, **params)
    return params


def _assert_refused_before_the_seal(session, built, db_url, instance, what: str, *, open_first: bool) -> None:
    """Open the box (if `open_first`), count and approve to the seal: one of these must refuse the change."""
    round_ = fresh(session).get(Round, built.id)
    try:
        if open_first:
            ballot_box.open_box(session, round_, account=built.board[0], cards=built.cards())
        counting.count_round(session, round_, account=built.board[0])
        sealing.approve(session, round_, account=built.board[0], key=_signing_key(instance))
    except BOX_ERRORS:
        return
    counted = sorted(sheet.marks for sheet in counting.count_of(session, round_).tablet_sheets)
    session.commit()
    pytest.fail(f"{what}: the tablet ballots counted are {counted}, the ones cast were {sorted(TABLET)}; "
                f"`trustvote audit verify` then says {_verify(db_url, instance)}")


def _assert_nothing_opened(session, built, sealed: int) -> None:
    session.rollback()
    assert _opened_rows(session, built.id) == []
    assert len(_sealed_rows(session, built.id)) == sealed
    assert not session.get(BallotBox, built.id).is_open  # read as stored: its record may have been tampered with


@pytest.mark.parametrize("change, left", [("edit", 5), ("insert", 6), ("delete", 4)])
def test_a_sealed_ballot_changed_after_the_close_is_caught_at_the_opening(session, world, change, left):
    built = _round(session, world, "closed", open_box=False)
    params = _change_sealed(session, built, change)
    if change == "insert":  # a good ballot: it opens under the board's key, only the set check stops it
        assert box.unseal(_board_key(built), built.id, params["stuffed"]) == STUFFED
    round_ = fresh(session).get(Round, built.id)
    with pytest.raises(SealedSetChanged):
        ballot_box.open_box(session, round_, account=built.board[0], cards=built.cards())
    _assert_nothing_opened(session, built, left)


def test_a_sealed_ballot_edited_with_the_close_record_recomputed_does_not_open(session, world):
    built = _round(session, world, "closed", open_box=False)
    _change_sealed(session, built, "edit")
    sealed = [s for _, s in _sealed_rows(session, built.id)]
    as_insider(session.get_bind(), "UPDATE ballot_box SET sealed_digest = :digest WHERE round_id = :round",
               digest=box.digest(sealed), round=built.id)
    round_ = fresh(session).get(Round, built.id)
    # the close record's MAC no longer holds (without the audit key: the sealed ballot would not open either)
    with pytest.raises((BoxRecordTampered, SealedBallotTampered)):
        ballot_box.open_box(session, round_, account=built.board[0], cards=built.cards())
    _assert_nothing_opened(session, built, 5)


def test_a_sealed_ballot_replaced_with_the_close_record_rewritten_is_caught_before_the_seal(session, world, db_url,
                                                                                            instance):
    """An insider needs no key to make a sealed ballot: the round's public key is in the database. Replacing a
    cast ballot by one of theirs and rewriting the close record in `ballot_box` to match must still be caught before
    the seal (the record carries a MAC under the audit key, which is not in the database)."""
    built = _round(session, world, "closed", open_box=False)
    rows = _sealed_rows(session, built.id)
    public_key = ballot_box.box_of(session, session.get(Round, built.id)).public_key
    stuffed = box.seal(public_key, built.id, STUFFED)
    as_insider(session.get_bind(),
               "DELETE FROM sealed_ballot WHERE id = :id",
               "INSERT INTO sealed_ballot (id, round_id, sealed) VALUES (:new, :round, :stuffed)",
               "UPDATE ballot_box SET sealed_digest = :digest WHERE round_id = :round",
               id=rows[0][0], new=random_source.token_bytes(16), round=built.id, stuffed=stuffed,
               digest=box.digest([s for _, s in rows[1:]] + [stuffed]))
    _assert_refused_before_the_seal(session, built, db_url, instance, "the replaced ballot was opened, counted and sealed",
                                    open_first=True)


# --- the opened ballots, between the opening and the seal -----------------------------------------------------

OPENED_CHANGES = {
    "edit": ("UPDATE ballot SET marks = :marks WHERE id = :id", OpenedBallotChanged),
    "insert": ("INSERT INTO ballot (id, round_id, marks) VALUES (:new, :round, :marks)", OpenedSetChanged),
    "delete": ("DELETE FROM ballot WHERE id = :id", OpenedSetChanged),
}


def _change_opened(session, built, change: str) -> None:
    target_id = _opened_rows(session, built.id)[0][0]
    as_insider(session.get_bind(), OPENED_CHANGES[change][0], id=target_id, new=random_source.token_bytes(16),
               round=built.id, marks=STUFFED)


@pytest.mark.parametrize("change", OPENED_CHANGES)
def test_an_opened_ballot_changed_before_the_count_is_caught_at_the_count(session, world, change):
    built = _round(session, world, "closed")
    _change_opened(session, built, change)
    round_ = fresh(session).get(Round, built.id)
    with pytest.raises(OPENED_CHANGES[change][1]):
        counting.count_round(session, round_, account=built.board[0])
    session.rollback()
    assert fresh(session).get(Round, built.id).state == "closed"


@pytest.mark.parametrize("change", OPENED_CHANGES)
def test_an_opened_ballot_changed_after_the_count_is_caught_at_the_seal(session, world, instance, change):
    built = _round(session, world, "counted")
    _change_opened(session, built, change)
    round_ = fresh(session).get(Round, built.id)
    with pytest.raises(OPENED_CHANGES[change][1]):
        sealing.approve(session, round_, account=built.board[0], key=_signing_key(instance))
    session.rollback()
    assert fresh(session).get(Round, built.id).state == "counted"
    assert fresh(session).scalar(select(func.count()).select_from(Result)) == 0


@pytest.mark.parametrize("change", OPENED_CHANGES)
def test_control_without_the_check_the_changed_ballot_is_counted_and_sealed(session, world, instance, monkeypatch,
                                                                           change):
    monkeypatch.setattr(ballot_box, "check_opened", lambda *args, **kwargs: None)
    built = _round(session, world, "closed")
    honest = counting.count_of(session, fresh(session).get(Round, built.id))
    _change_opened(session, built, change)
    round_ = fresh(session).get(Round, built.id)
    tally = counting.count_round(session, round_, account=built.board[0])
    assert tally != honest.tally
    counted = [sheet.marks for sheet in counting.count_of(session, round_).tablet_sheets]
    assert (STUFFED in counted) == (change != "delete") and len(counted) == {"insert": 6, "delete": 4}.get(change, 5)
    assert sealing.approve(session, round_, account=built.board[0], key=_signing_key(instance))


def test_an_opened_ballot_edited_with_the_opening_record_rewritten_is_caught_before_the_seal(session, world, db_url,
                                                                                            instance):
    """The opening's count and digest live in the `ballot_box` row too: rewriting them to match an edited ballot
    must still be caught before the seal (the record carries a MAC under the audit key, which is not in the
    database)."""
    built = _round(session, world, "closed")
    rows = _opened_rows(session, built.id)
    changed = [STUFFED] + [m for _, m in rows[1:]]
    as_insider(session.get_bind(),
               "UPDATE ballot SET marks = :marks WHERE id = :id",
               "UPDATE ballot_box SET opened_digest = :digest WHERE round_id = :round",
               id=rows[0][0], marks=STUFFED, round=built.id,
               digest=results.ballots_digest(Sheet(m) for m in changed))
    _assert_refused_before_the_seal(session, built, db_url, instance, "the edited ballot was counted and sealed",
                                    open_first=False)
