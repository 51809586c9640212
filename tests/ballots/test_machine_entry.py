"""Machine entry, in the domain: the scanner's reading is one entry of a sheet, never enough alone; tellers confirm
it or key their own; doubts go to the board; duplicates and foreign codes as for keyed sheets; images encrypted,
seen by the board only, deleted or archived at the seal with the audit log saying which.

The readings are sheet_reader.SheetReading values as the reader returns them (its own tests and the corpus test
check what it reads on real pages: tests/ballots/test_scan_flow_corpus.py reads printed, marked, rasterized
sheets end to end)."""

import io
import json
import zipfile

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from sqlalchemy import func, select

from ballots import counting, machine_entry, minutes, paper_entry, sealing, tokens
from ballots.errors import Conflict, NotOnBoard
from ballots.models import AuditEntry, PaperEntry, ScanImage, ScanPage, SetAside
from ballots.sheet_reader import (
    NO_MARK,
    NOT_A_BALLOT,
    ONE_MARK,
    QR_UNREADABLE,
    SEVERAL,
    UNCLEAR,
    UNCLEAR_ROW,
    UNKNOWN_CODE,
    RowReading,
    SheetReading,
)
from tests.factories import TELLERS, accounts_with_role, make_round

KEY = Ed25519PrivateKey.generate()
STATES = {"0": NO_MARK, "4": SEVERAL, "?": UNCLEAR}


def _png(shade: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("L", (40, 56), shade).save(out, format="PNG")
    return out.getvalue()


def reading(code, digits, problems=(), *, page=1, blank=False, png=None):
    rows = tuple(RowReading(i + 1, STATES.get(d, ONE_MARK), int(d) if d in "123" else None, (0.0, 0.0, 0.0), b"")
                 for i, d in enumerate(digits))
    return SheetReading("to-quet.pdf", page, code, "A4", rows, tuple(problems), False, blank, png or _png())


@pytest.fixture
def built(session, world):
    """A round of 4 candidates, 8 ballots issued, the first cast on a tablet, voting closed, the box opened."""
    return make_round(session, world, until="closed", board=TELLERS, issue=8, tablet=(b"\x01\x01\x01\x01",))


def record(session, world, built, *readings, who="teller"):
    return machine_entry.record_readings(session, built.round, uploader=world.accounts[who], readings=readings)


def state_of(session, built, sheet):
    return paper_entry.sheet_state(session, built.round, sheet)


def test_a_clean_reading_is_one_entry_and_counts_once_a_teller_confirms_it(session, world, built):
    [outcome] = record(session, world, built, reading(built.codes[2], "1231"))
    assert (outcome.outcome, outcome.reasons) == (machine_entry.READ, ())
    # the scanner alone: the sheet waits, and the count with it
    assert state_of(session, built, outcome.sheet).status == paper_entry.INCOMPLETE
    assert counting.count_of(session, built.round).tally.collected == 1
    # the confirmation is the teller's own entry, equal to the scanner's
    state = machine_entry.confirm(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller2"])
    assert state.status == paper_entry.AGREED
    entry = session.scalar(select(PaperEntry).where(PaperEntry.sheet == outcome.sheet))
    assert (entry.teller_id, entry.marks) == (world.accounts["teller2"].id, b"\x01\x02\x03\x01")
    tally = counting.count_of(session, built.round).tally
    assert (tally.collected, [c.low for c in tally.candidates]) == (2, [0, 0, 1, 0])


def test_grassroots_2017_needs_two_tellers_besides_the_scanner(session, world):
    accounts_with_role(session, world, world.commune, "teller", "teller3")
    built = make_round(session, world, until="closed", rule_set="grassroots-2017",
                       board=(*TELLERS, "teller3"), issue=4)
    assert built.round.machine_entries == 2
    [outcome] = record(session, world, built, reading(built.codes[0], "1111"))
    first = machine_entry.confirm(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller"])
    assert first.status == paper_entry.INCOMPLETE  # the scanner and one teller are not enough here
    second = machine_entry.confirm(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller2"])
    assert second.status == paper_entry.AGREED


def test_a_tellers_own_reading_that_differs_from_the_scanners_goes_to_the_board(session, world, built):
    [outcome] = record(session, world, built, reading(built.codes[2], "1231"))
    state = machine_entry.key_reading(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller"],
                                      marks="1331")
    assert state.status == paper_entry.DISAGREE
    assert [s.sheet for s in paper_entry.for_the_board(paper_entry.sheet_states(session, built.round))] == [
        outcome.sheet]
    paper_entry.rule_sheet(session, built.round, sheet=outcome.sheet, account=world.accounts["teller2"], marks="1331")
    assert state_of(session, built, outcome.sheet).status == paper_entry.RULED


def test_a_doubtful_reading_cannot_be_confirmed_and_goes_to_the_board_once_keyed(session, world, built):
    [outcome] = record(session, world, built, reading(built.codes[2], "12?1", (UNCLEAR_ROW,)))
    assert (outcome.outcome, outcome.reasons) == (machine_entry.REVIEW, (UNCLEAR_ROW,))
    page = session.get(ScanPage, outcome.page_id)
    assert (page.marks, page.rows, machine_entry.reasons_of(page)) == (None, ["1", "2", None, "1"], [UNCLEAR_ROW])
    with pytest.raises(Conflict):
        machine_entry.confirm(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller"])
    # even a teller's reading alone does not settle it: never counted on the machine's word nor one teller's
    state = machine_entry.key_reading(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller"],
                                      marks="1231")
    assert state.status == paper_entry.DISAGREE
    assert counting.count_of(session, built.round).tally.collected == 1
    paper_entry.rule_sheet(session, built.round, sheet=outcome.sheet, account=world.accounts["teller2"], marks="1231")
    assert counting.count_of(session, built.round).tally.collected == 2


def test_a_sheet_used_on_a_tablet_is_set_aside_as_for_a_keyed_sheet(session, world, built):
    [outcome] = record(session, world, built, reading(built.codes[0], "3333"))
    assert outcome.outcome == machine_entry.SET_ASIDE
    assert session.scalar(select(func.count()).select_from(ScanPage)) == 0  # nothing of it kept
    assert session.scalar(select(SetAside.reason)) == paper_entry.TABLET
    assert paper_entry.set_aside_count(session, built.round) == 1
    assert counting.count_of(session, built.round).tally.collected == 1


def test_a_page_of_another_round_is_collected_and_invalid_once_confirmed(session, world, built):
    other = make_round(session, world, until="issued", board=TELLERS, issue=2, title="Đợt khác")
    # the reader finds no layout for a code of another round: that is no doubt, the sheet is void whatever it says
    [outcome] = record(session, world, built, reading(other.codes[0], "", (UNKNOWN_CODE,)))
    assert (outcome.outcome, outcome.message, outcome.sheet[0]) == (machine_entry.READ, machine_entry.NOT_ISSUED_HERE,
                                                                    "x")
    machine_entry.confirm(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller"])
    tally = counting.count_of(session, built.round).tally
    assert (tally.collected, tally.invalid, tally.invalid_reasons) == (2, 1, {"not_issued": 1})


def test_a_page_scanned_twice_is_refused_and_nothing_of_it_is_written(session, world, built):
    first, second = record(session, world, built, reading(built.codes[2], "1231"),
                           reading(built.codes[2], "1231", page=2))
    assert (first.outcome, second.outcome) == (machine_entry.READ, machine_entry.REFUSED)
    assert second.message == machine_entry.ALREADY_SCANNED and second.params == {"source": "to-quet.pdf, 1"}
    assert session.scalar(select(func.count()).select_from(ScanPage)) == 1
    assert session.scalar(select(func.count()).select_from(ScanImage)) == 1
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "scan.read")) == 1


def test_a_page_with_another_qr_is_refused_and_never_kept(session, world, built):
    blank, card = record(session, world, built, reading(None, "", blank=True),
                         reading(None, "", (NOT_A_BALLOT,), page=2))
    assert (blank.outcome, card.outcome) == (machine_entry.BLANK, machine_entry.REFUSED)
    assert session.scalar(select(func.count()).select_from(ScanPage)) == 0


def test_an_unread_qr_waits_for_a_teller_to_type_the_code_and_then_goes_to_the_board(session, world, built):
    [outcome] = record(session, world, built, reading(None, "1231", (QR_UNREADABLE,)))
    assert (outcome.outcome, outcome.sheet) == (machine_entry.REVIEW, None)
    states = paper_entry.sheet_states(session, built.round)
    assert [(s.sheet, s.status) for s in states] == [(f"s{outcome.page_id}", paper_entry.INCOMPLETE)]
    assert [p.id for p in machine_entry.to_review(session, built.round, world.accounts["teller"])] == [outcome.page_id]
    entered = machine_entry.key_reading(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller"],
                                        code=built.grouped[2], marks="1231")
    assert entered.sheet == f"t{session.get(ScanPage, outcome.page_id).sheet[1:]}"
    assert state_of(session, built, entered.sheet).status == paper_entry.DISAGREE  # the QR was a doubt: the board


def test_the_image_is_stored_encrypted_and_shown_to_the_board_only(session, world, built, instance):
    png = _png(77)
    [outcome] = record(session, world, built, reading(built.codes[2], "1231", png=png))
    stored = session.get(ScanImage, outcome.page_id).sealed
    assert png not in stored and png[:64] not in stored  # whoever holds the database sees ciphertext
    assert (instance / "scans" / "keys" / f"round-{built.id}.key").stat().st_mode & 0o777 == 0o600
    image = machine_entry.image_of(session, built.round, page_id=outcome.page_id, account=world.accounts["teller"])
    assert image == (png, "image/png")
    with pytest.raises(NotOnBoard):
        machine_entry.image_of(session, built.round, page_id=outcome.page_id, account=world.accounts["organizer"])


def _confirm_and_seal(session, world, built):
    [outcome] = record(session, world, built, reading(built.codes[2], "1231"))
    machine_entry.confirm(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller2"])
    session.commit()
    counting.count_round(session, built.round, account=world.accounts["teller"])
    for who in TELLERS:
        if sealing.approve(session, built.round, account=world.accounts[who], key=KEY):
            break
    return outcome


def test_at_the_seal_the_images_are_deleted_and_their_key_destroyed_after_the_commit(session, world, built, instance):
    key_file = instance / "scans" / "keys" / f"round-{built.id}.key"
    outcome = _confirm_and_seal(session, world, built)
    assert session.scalar(select(func.count()).select_from(ScanImage)) == 0
    assert key_file.exists()  # not before the seal is durable: a failed commit would lose the images
    session.commit()
    assert not key_file.exists()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "scans.delete"))
    assert json.loads(entry.details) == {"pages": 1}
    with pytest.raises(Conflict):
        machine_entry.image_of(session, built.round, page_id=outcome.page_id, account=world.accounts["teller"])
    document, _result = sealing.current_document(session, built.round)
    assert document["scanned"] == {"pages": 1, "read": 1, "confirmed": 1, "confirmed_by": {"teller2": 1},
                                   "images": "delete"}
    assert sealing.verify_sealed(session, KEY.public_key().public_bytes_raw()) == []
    assert "người xác nhận: teller2: 1 tờ" in minutes._scanned_words(document["scanned"])


def test_a_seal_that_rolls_back_keeps_the_key(session, world, built, instance):
    _confirm_and_seal(session, world, built)
    session.rollback()
    assert (instance / "scans" / "keys" / f"round-{built.id}.key").exists()
    assert session.scalar(select(func.count()).select_from(ScanImage)) == 1


def test_at_the_seal_the_images_are_archived_when_the_round_says_so(session, world, instance):
    built = make_round(session, world, until="closed", board=TELLERS, issue=8, tablet=(b"\x01\x01\x01\x01",),
                       settings={"scan_retention": "archive"})
    png = _png(33)
    [outcome] = record(session, world, built, reading(built.codes[2], "1231", png=png))
    machine_entry.confirm(session, built.round, page_id=outcome.page_id, teller=world.accounts["teller2"])
    counting.count_round(session, built.round, account=world.accounts["teller"])
    for who in TELLERS:
        if sealing.approve(session, built.round, account=world.accounts[who], key=KEY):
            break
    session.commit()
    archive = instance / "scans" / "archive" / f"round-{built.id}-scans.zip"
    assert archive.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(archive) as opened:
        names = opened.namelist()
        assert opened.read(names[0]) == png
        manifest = json.loads(opened.read("manifest.json"))
    assert manifest["pages"][0]["marks"] == "1231"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "scans.archive"))
    details = json.loads(entry.details)
    assert (details["pages"], details["file"]) == (1, archive.name)
    import hashlib
    assert details["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert session.scalar(select(func.count()).select_from(ScanImage)) == 0
    assert not (instance / "scans" / "keys" / f"round-{built.id}.key").exists()


def test_the_code_of_a_scanned_sheet_is_never_stored(session, world, built):
    record(session, world, built, reading(built.codes[2], "1231"))
    code = built.codes[2]
    for entry in session.scalars(select(AuditEntry)):
        assert code not in entry.details and tokens.grouped(code) not in entry.details
    page = session.scalar(select(ScanPage))
    assert code not in page.source and code.encode() not in (page.marks or b"")


def test_an_unread_page_whose_code_was_used_on_a_tablet_is_set_aside_and_not_kept(session, world, built):
    [outcome] = record(session, world, built, reading(None, "1111", (QR_UNREADABLE,)))
    entered = machine_entry.key_reading(session, built.round, page_id=outcome.page_id,
                                        teller=world.accounts["teller"], code=built.codes[0], marks="1111")
    assert entered.outcome == "set_aside"
    assert session.scalar(select(func.count()).select_from(ScanPage)) == 0
    assert session.scalar(select(func.count()).select_from(ScanImage)) == 0
    assert paper_entry.unsettled(paper_entry.sheet_states(session, built.round)) == []  # the count is not held up
