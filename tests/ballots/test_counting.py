"""Counting, in the domain: paper entry by independent tellers, duplicates, rulings, the count, approval, the seal."""

import hashlib
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from ballots import audit, casting, counting, paper_entry, rounds, sealing, signing, tokens
from ballots.errors import (
    AlreadyApproved,
    AnomalyNotRuled,
    Conflict,
    InvalidInput,
    NotCounted,
    NotCountingNow,
    NotOnBoard,
    PaperMarksInvalid,
    RoundSealed,
    SheetsUnsettled,
)
from ballots.models import Approval, AuditEntry, PaperEntry, Result, SetAside
from tests.factories import TELLERS, make_round

KEY = Ed25519PrivateKey.generate()


TABLET = (b"\x01\x01\x03\x02", b"\x01\x02\x03\x02", b"\x02\x03\x03\x01")


@pytest.fixture
def counting_round(session, world):
    """A round of 4 candidates, 10 present, 8 ballots issued: 3 cast on tablets, then voting closed."""
    built = make_round(session, world, until="closed", board=TELLERS, issue=8, tablet=TABLET)
    return built.round, built.codes


def _enter(session, world, round_, code, marks="1231", who=("teller", "teller2"), **kwargs):
    return [paper_entry.enter_sheet(session, round_, teller=world.accounts[name], code=code, marks=marks, **kwargs)
            for name in who]


def test_a_paper_sheet_counts_only_once_two_tellers_entries_agree(session, world, counting_round):
    round_, codes = counting_round
    first, second = _enter(session, world, round_, codes[3])
    assert (first.outcome, first.status, second.status) == ("entered", paper_entry.INCOMPLETE, paper_entry.AGREED)
    count = counting.count_of(session, round_).tally
    # 3 tablet ballots + 1 paper sheet collected of 8 issued: 4 not collected
    assert (count.issued, count.collected, count.valid, count.not_collected) == (8, 4, 4, 4)
    # high trust per row: tablets 1,1,2 / 1,2,3 / 3,3,3 / 2,2,1 and the paper sheet 1,2,3,1
    assert [c.high for c in count.candidates] == [3, 1, 0, 2]


def test_a_sheet_entered_by_one_teller_only_is_not_counted_and_blocks_the_count(session, world, counting_round):
    round_, codes = counting_round
    _enter(session, world, round_, codes[3], who=("teller",))
    assert counting.count_of(session, round_).tally.collected == 3
    with pytest.raises(SheetsUnsettled):
        counting.count_round(session, round_, account=world.accounts["teller"])
    assert round_.state == "closed"


def test_disagreeing_entries_wait_for_the_boards_ruling_which_is_recorded_with_who_ruled(session, world, counting_round):
    round_, codes = counting_round
    paper_entry.enter_sheet(session, round_, teller=world.accounts["teller"], code=codes[3], marks="1231")
    entered = paper_entry.enter_sheet(session, round_, teller=world.accounts["teller2"], code=codes[3], marks="1233")
    assert entered.status == paper_entry.DISAGREE
    with pytest.raises(SheetsUnsettled):
        counting.count_round(session, round_, account=world.accounts["teller"])
    paper_entry.rule_sheet(session, round_, sheet=entered.sheet, account=world.accounts["teller2"], marks="1233")
    state = paper_entry.sheet_state(session, round_, entered.sheet)
    assert state.status == paper_entry.RULED and state.ruling.ruled_by == world.accounts["teller2"].id
    assert state.content == (b"\x01\x02\x03\x03", "")
    tally = counting.count_round(session, round_, account=world.accounts["teller"])
    assert tally.collected == 4 and tally.candidates[3].low == 1 and round_.state == "counted"
    assert session.scalars(select(AuditEntry.action).where(AuditEntry.action == "paper.rule")).one()


def test_a_sheet_only_one_teller_entered_cannot_be_ruled_on_even_by_the_board(session, world, counting_round):
    round_, codes = counting_round
    entered, = _enter(session, world, round_, codes[3], who=("teller",))
    assert entered.status == paper_entry.INCOMPLETE
    for who in ("teller", "teller2"):
        with pytest.raises(Conflict):
            paper_entry.rule_sheet(session, round_, sheet=entered.sheet, account=world.accounts[who], marks="1231")
    states = paper_entry.sheet_states(session, round_)
    assert paper_entry.for_the_board(states) == [] and len(paper_entry.unsettled(states)) == 1
    assert paper_entry.ruled_count(states) == 0


def test_an_agreed_sheet_cannot_be_ruled_on(session, world, counting_round):
    round_, codes = counting_round
    entered, _ = _enter(session, world, round_, codes[3])
    with pytest.raises(Conflict):
        paper_entry.rule_sheet(session, round_, sheet=entered.sheet, account=world.accounts["teller"], marks="1111")


def test_a_sheet_already_used_on_a_tablet_is_set_aside_and_not_collected(session, world, counting_round):
    round_, codes = counting_round
    first, second = _enter(session, world, round_, codes[0])
    assert (first.outcome, first.set_aside, second.set_aside) == ("set_aside", paper_entry.TABLET, paper_entry.TABLET)
    assert counting.count_of(session, round_).tally.collected == 3  # the 3 tablet ballots, not 4
    assert paper_entry.set_aside_count(session, round_) == 1
    assert session.scalar(select(func.count()).select_from(PaperEntry)) == 0


def test_a_teller_scanning_a_sheet_they_entered_records_nothing_and_a_correction_replaces_the_entry(
        session, world, counting_round):
    round_, codes = counting_round
    teller = world.accounts["teller"]
    paper_entry.enter_sheet(session, round_, teller=teller, code=codes[4], marks="2222")
    paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="1231")
    again = paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="1231")
    # the same sheet scanned again: no duplicate, nothing written; where the earlier entry is in the stack (2nd)
    assert (again.outcome, again.set_aside, again.earlier, again.same) == (paper_entry.ALREADY, None, 2, True)
    misread = paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="3333")
    assert (misread.outcome, misread.same) == (paper_entry.ALREADY, False)
    assert session.scalar(select(func.count()).select_from(SetAside)) == 0
    assert paper_entry.set_aside_count(session, round_) == 0
    corrected = paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="3333", correct=True)
    assert corrected.outcome == "corrected"
    assert session.scalars(select(PaperEntry.marks).where(PaperEntry.sheet == corrected.sheet)).one() == b"\x03" * 4
    with pytest.raises(InvalidInput):
        paper_entry.enter_sheet(session, round_, teller=teller, code=codes[5], marks="1231", correct=True)


def test_another_sheet_with_a_code_already_entered_is_a_duplicate_only_when_the_teller_says_so(
        session, world, counting_round):
    round_, codes = counting_round
    teller, teller2 = world.accounts["teller"], world.accounts["teller2"]
    with pytest.raises(InvalidInput):  # nothing entered with this code yet: it is no copy of anything
        paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="1231", another_sheet=True)
    for who in (teller, teller2):  # both passes meet the sheet and its photocopy
        paper_entry.enter_sheet(session, round_, teller=who, code=codes[3], marks="1231")
        copy = paper_entry.enter_sheet(session, round_, teller=who, code=codes[3], marks="1231", another_sheet=True)
        assert (copy.outcome, copy.set_aside) == ("set_aside", paper_entry.AGAIN)
    paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="1231")  # a re-scan: nothing
    # one physical copy, whatever the number of passes and re-scans
    assert paper_entry.duplicates(session, round_) == {paper_entry.TABLET: 0, paper_entry.AGAIN: 1}
    assert counting.count_of(session, round_).tally.collected == 4
    with pytest.raises(InvalidInput):
        paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="1231", correct=True,
                                another_sheet=True)


def test_a_tablet_sheet_scanned_again_by_the_same_teller_is_still_one_duplicate(session, world, counting_round):
    round_, codes = counting_round
    teller = world.accounts["teller"]
    first = paper_entry.enter_sheet(session, round_, teller=teller, code=codes[0], marks="1231")
    again = paper_entry.enter_sheet(session, round_, teller=teller, code=codes[0], marks="1231")
    assert (first.outcome, again.outcome, again.earlier) == ("set_aside", paper_entry.ALREADY, None)
    _enter(session, world, round_, codes[0], who=("teller2",))
    assert paper_entry.duplicates(session, round_) == {paper_entry.TABLET: 1, paper_entry.AGAIN: 0}
    # a second photocopy of the tablet ballot's sheet, declared as such: two physical duplicates
    paper_entry.enter_sheet(session, round_, teller=teller, code=codes[0], marks="1231", another_sheet=True)
    assert paper_entry.set_aside_count(session, round_) == 2


def test_an_unknown_code_or_a_sheet_without_code_is_collected_but_invalid_as_not_issued(session, world, counting_round):
    round_, codes = counting_round
    stranger = tokens.code_of(tokens.new_secret())
    _, entered = _enter(session, world, round_, stranger, marks="")
    assert entered.sheet.startswith("x") and entered.flaws == "not_issued" and entered.status == paper_entry.AGREED
    _, nocode = _enter(session, world, round_, "", marks="")
    assert nocode.sheet == "n1" and nocode.status == paper_entry.AGREED
    tally = counting.count_of(session, round_).tally
    assert (tally.collected, tally.valid, tally.invalid, tally.invalid_reasons) == (5, 3, 2, {"not_issued": 2})


def test_a_ballot_of_another_round_is_not_issued_by_this_board(session, world, counting_round):
    round_, _codes = counting_round
    code = make_round(session, world, until="issued", title="Vòng khác", issue=1).codes[0]
    entered, _ = _enter(session, world, round_, code, marks="")
    assert entered.flaws == "not_issued"


def test_whole_sheet_flaws_agree_whatever_marks_were_keyed(session, world, counting_round):
    round_, codes = counting_round
    paper_entry.enter_sheet(session, round_, teller=world.accounts["teller"], code=codes[3], marks="1231",
                         flaws=["crossed_out"])
    entered = paper_entry.enter_sheet(session, round_, teller=world.accounts["teller2"], code=codes[3], marks="",
                                   flaws=["crossed_out"])
    assert entered.status == paper_entry.AGREED
    assert counting.count_of(session, round_).tally.invalid_reasons == {"crossed_out": 1}


def test_malformed_paper_entries_are_refused_and_nothing_is_written(session, world, counting_round):
    round_, codes = counting_round
    teller = world.accounts["teller"]
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    for marks in ("123", "12345", "12a1", "1 2 3 1", "１２３１"):
        with pytest.raises(PaperMarksInvalid):
            paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks=marks)
    with pytest.raises(InvalidInput):
        paper_entry.enter_sheet(session, round_, teller=teller, code=codes[3], marks="1231", flaws=["coffee_stain"])
    with pytest.raises(InvalidInput):  # a typo in the code
        paper_entry.enter_sheet(session, round_, teller=teller, marks="1231",
                                code=codes[3][:-1] + ("0" if codes[3][-1] != "0" else "1"))  # never the code itself
    session.rollback()
    assert session.scalar(select(func.count()).select_from(PaperEntry)) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before


def test_only_the_board_enters_and_only_in_a_closed_round(session, world, counting_round):
    round_, codes = counting_round
    with pytest.raises(NotOnBoard):
        paper_entry.enter_sheet(session, round_, teller=world.accounts["organizer"], code=codes[3], marks="1231")
    round_.state = "open"
    with pytest.raises(NotCountingNow):
        paper_entry.enter_sheet(session, round_, teller=world.accounts["teller"], code=codes[3], marks="1231")


def _sealed(session, world, round_, codes):
    _enter(session, world, round_, codes[3])
    counting.count_round(session, round_, account=world.accounts["teller"])
    assert sealing.approve(session, round_, account=world.accounts["teller"], key=KEY) is False
    assert sealing.approve(session, round_, account=world.accounts["teller2"], key=KEY) is True
    session.commit()
    return session.get(Result, round_.id)


def test_two_approvals_of_a_board_of_two_seal_a_signed_result(session, world, counting_round):
    round_, codes = counting_round
    result = _sealed(session, world, round_, codes)
    assert round_.state == "sealed"
    doc = json.loads(result.document)
    assert doc["numbers"]["collected"] == 4 and doc["approved_by"] == ["teller", "teller2"]
    assert doc["token_commitment"] == round_.commitment and doc["round"]["committee"] == "Đảng ủy xã Yên Bình"
    assert signing.verify(signing.public_bytes(KEY), result.document.encode(), result.signature)
    assert result.digest == hashlib.sha256(result.document.encode()).hexdigest()
    seal = session.scalars(select(AuditEntry).where(AuditEntry.action == "round.seal")).one()
    assert json.loads(seal.details)["result_sha256"] == result.digest
    assert doc["audit_head"]["seq"] == seal.seq - 1
    assert sealing.verify_sealed(session, signing.public_bytes(KEY)) == []
    assert audit.verify(session).ok


def test_approving_twice_or_without_a_seat_on_the_board_is_refused(session, world, counting_round):
    round_, codes = counting_round
    _enter(session, world, round_, codes[3])
    with pytest.raises(NotCounted):
        sealing.approve(session, round_, account=world.accounts["teller"], key=KEY)
    counting.count_round(session, round_, account=world.accounts["teller"])
    sealing.approve(session, round_, account=world.accounts["teller"], key=KEY)
    with pytest.raises(AlreadyApproved):
        sealing.approve(session, round_, account=world.accounts["teller"], key=KEY)
    with pytest.raises(NotOnBoard):
        sealing.approve(session, round_, account=world.accounts["viewer"], key=KEY)
    assert session.scalar(select(func.count()).select_from(Approval)) == 1 and round_.state == "counted"


def test_reopening_the_count_withdraws_the_approvals(session, world, counting_round):
    round_, codes = counting_round
    _enter(session, world, round_, codes[3])
    counting.count_round(session, round_, account=world.accounts["teller"])
    sealing.approve(session, round_, account=world.accounts["teller"], key=KEY)
    counting.reopen_count(session, round_, account=world.accounts["teller2"])
    assert round_.state == "closed" and session.scalar(select(func.count()).select_from(Approval)) == 0


def test_more_sheets_than_issued_is_an_anomaly_the_board_rules_on_before_approving(session, world, counting_round):
    round_, codes = counting_round
    for code in codes[3:]:
        _enter(session, world, round_, code)
    for _ in range(2):  # two sheets that this board never issued: 3 + 5 + 2 = 10 collected > 8 issued
        _enter(session, world, round_, tokens.code_of(tokens.new_secret()), marks="")
    tally = counting.count_round(session, round_, account=world.accounts["teller"])
    assert tally.collected == 10 and tally.anomalies == ("collected_exceeds_issued",)
    with pytest.raises(AnomalyNotRuled):
        sealing.approve(session, round_, account=world.accounts["teller"], key=KEY)
    counting.rule_anomaly(session, round_, account=world.accounts["teller"],
                          ruling="Hai phiếu lạ bị loại; số phiếu hợp lệ không vượt số phát ra.")
    sealing.approve(session, round_, account=world.accounts["teller"], key=KEY)
    sealing.approve(session, round_, account=world.accounts["teller2"], key=KEY)
    doc = json.loads(session.get(Result, round_.id).document)
    assert doc["rulings"]["anomaly"].startswith("Hai phiếu lạ") and doc["anomalies"] == ["collected_exceeds_issued"]


def test_after_the_seal_the_domain_refuses_every_change_and_nothing_changes(session, world, counting_round):
    round_, codes = counting_round
    _sealed(session, world, round_, codes)
    before = session.scalar(select(func.count()).select_from(AuditEntry))
    attempts = [
        lambda: paper_entry.enter_sheet(session, round_, teller=world.accounts["teller"], code=codes[4], marks="1111"),
        lambda: paper_entry.rule_sheet(session, round_, sheet="t1", account=world.accounts["teller"], marks="1111"),
        lambda: counting.count_round(session, round_, account=world.accounts["teller"]),
        lambda: counting.reopen_count(session, round_, account=world.accounts["teller"]),
        lambda: sealing.approve(session, round_, account=world.accounts["teller"], key=KEY),
        lambda: counting.rule_anomaly(session, round_, account=world.accounts["teller"], ruling="x"),
    ]
    for attempt in attempts:
        with pytest.raises(RoundSealed):
            attempt()
    with pytest.raises(Conflict):
        casting.open_voting(session, round_, actor="test")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
    assert session.scalar(select(func.count()).select_from(SetAside)) == 0


def test_the_sealed_export_recounts_to_the_sealed_result(session, world, counting_round):
    round_, codes = counting_round
    result = _sealed(session, world, round_, codes)
    export = sealing.sealed_export(session, round_, actor="teller")
    assert export["format"] == "trustvote.ballots/1" and len(export["ballots"]) == 4
    assert export["ballots"] == sorted(export["ballots"])
    lines = "".join(line + "\n" for line in export["ballots"]).encode()
    assert hashlib.sha256(lines).hexdigest() == json.loads(result.document)["ballots_digest"]


def test_a_round_may_ask_for_fewer_approvals_than_a_majority_but_never_more_than_its_board(session, world):
    round_ = make_round(session, world, board=()).round
    board = [world.accounts["teller"].id, world.accounts["teller2"].id]
    with pytest.raises(InvalidInput):
        rounds.set_board(session, round_, board, approvals_required=3, actor="test")
    rounds.set_board(session, round_, board, approvals_required=1, actor="test")
    assert round_.approvals_needed == 1
    rounds.set_board(session, round_, board, actor="test")
    assert round_.approvals_needed == 2  # more than half of 2


def test_one_approval_seals_when_the_round_asks_for_one(session, world):
    round_ = make_round(session, world, until="counted", board=TELLERS, approvals_required=1, issue=8,
                        tablet=TABLET, paper=[(3, "1231")]).round
    assert sealing.approve(session, round_, account=world.accounts["teller"], key=KEY) is True
    assert round_.state == "sealed"
