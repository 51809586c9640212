"""The record: what the sealed minutes say about duplicates, rulings and an anomaly is what happened at the count.

One round, counted by two tellers, with each case the minutes must tell apart: a teller scanning again a sheet they
had already entered (no duplicate: nothing is set aside), the paper sheet of a ballot already cast on a tablet (a
genuine duplicate, met by both tellers, one of whom scans it twice), a sheet the tellers read differently (the one
sheet the board rules on), a sheet only one teller has entered at first (not the board's to settle), and more sheets
collected than issued (the anomaly, ruled in writing).
"""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ballots import counting, minutes, paper_entry, results, sealing, tokens
from ballots.errors import Conflict
from tests import pdfs
from tests.factories import TELLERS, make_round

KEY = Ed25519PrivateKey.generate()
RULING = "Hai tờ phiếu thừa không do Ban kiểm phiếu phát ra, đã tính là phiếu không hợp lệ; kết quả vẫn có giá trị."


@pytest.fixture
def counted(session, world):
    """4 ballots issued of 10 present; ballots 0 and 1 cast on tablets. On paper: ballot 2 (agreed; teller scans it
    again), ballot 3 (read differently, ruled), ballot 0's sheet (a duplicate), two sheets no one issued (collected,
    invalid): 2 tablet + 2 paper + 2 not issued = 6 collected of 4 issued."""
    built = make_round(session, world, until="closed", board=TELLERS, issue=4, tablet=("1231", "2222"))
    teller, teller2 = world.accounts["teller"], world.accounts["teller2"]
    codes = built.codes
    strangers = [tokens.code_of(tokens.new_secret()) for _ in range(2)]

    def enter(who, code, marks="", **kwargs):
        return paper_entry.enter_sheet(session, built.round, teller=who, code=code, marks=marks, **kwargs)

    enter(teller, codes[2], "1111")
    lone = enter(teller, codes[3], "1233")
    # alone, the sheet waits for another teller: the board cannot settle it in that teller's place
    with pytest.raises(Conflict):
        paper_entry.rule_sheet(session, built.round, sheet=lone.sheet, account=teller, marks="1233")
    assert enter(teller, codes[0], "1231").outcome == "set_aside"
    assert enter(teller, codes[2], "1111").outcome == paper_entry.ALREADY  # the re-scan
    assert enter(teller, codes[0], "1231").outcome == paper_entry.ALREADY  # the duplicate, scanned again
    for code in strangers:
        enter(teller, code)
    enter(teller2, codes[0], "1231")
    enter(teller2, codes[2], "1111")
    assert enter(teller2, codes[3], "1232").status == paper_entry.DISAGREE
    for code in strangers:
        enter(teller2, code)
    paper_entry.rule_sheet(session, built.round, sheet=lone.sheet, account=teller2, marks="1233")
    counting.count_round(session, built.round, account=teller)
    counting.rule_anomaly(session, built.round, account=teller2, ruling=RULING)
    for member in (teller, teller2):
        sealing.approve(session, built.round, account=member, key=KEY)
    session.commit()
    return built.round


def test_the_sealed_document_counts_one_duplicate_one_ruling_and_the_anomalys_ruling(session, counted):
    document, result = sealing.current_document(session, counted)
    assert result is not None
    assert document["set_aside"] == {"duplicates": 1, "used_on_tablet": 1, "other_sheet": 0}
    assert document["rulings"] == {"sheets": 1, "anomaly": RULING}
    numbers = document["numbers"]
    assert (numbers["issued"], numbers["collected"], numbers["invalid_reasons"]) == (4, 6, {"not_issued": 2})
    assert document["anomalies"] == ["collected_exceeds_issued"]


def test_the_sealed_minutes_say_what_happened(session, counted, tmp_path):
    document, result = sealing.current_document(session, counted)
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(minutes.minutes_pdf(document, signed=results.envelope_of(result)))
    text = pdfs.words(pdfs.text(pdf))
    for expected in (
        "4. Phiếu trùng mã (cùng một phiếu đã được tính), để riêng, không tính: 1 phiếu, trong đó:",
        "– Mã đã được dùng để bỏ phiếu trên máy tính bảng: 1 phiếu.",
        "– Mã trùng với mã của một tờ phiếu giấy khác: 0 phiếu.",
        "5. Số tờ phiếu do Ban kiểm phiếu quyết định vì các lần nhập phiếu không khớp nhau: 1 tờ.",
        "6. Bất thường: số phiếu thu về (6) nhiều hơn số phiếu phát ra (4).",
        f"Quyết định của Ban kiểm phiếu: {RULING}",
    ):
        assert expected in text, f"{expected!r} not in the minutes:\n{text}"
