"""The counting pages: paper entry, rulings, the count, approval and seal, the minutes and the downloads, who may."""

import json

import pytest
from sqlalchemy import select

from ballots import tokens
from ballots.models import Approval, AuditEntry, PaperEntry, Result, Round, SetAside, SheetRuling
from tests import pdfs
from tests.conftest import count_rows, fresh
from tests.factories import TELLERS, make_round


@pytest.fixture
def closed(session, world):
    """4 candidates, 6 ballots issued, 2 cast on tablets, voting closed; board: teller and teller2."""
    built = make_round(session, world, until="closed", board=TELLERS, issue=6,
                       tablet=[b"\x01\x02\x03\x03", b"\x01\x01\x03\x02"])
    return built.id, built.codes


def enter(client, round_id, code, marks="1231", follow_redirects=False, **extra):
    return client.submit(f"/count/rounds/{round_id}/entry", data={"code": code, "marks": marks, **extra},
                         follow_redirects=follow_redirects)


def post(client, round_id, action, data=None):
    return client.submit(f"/count/rounds/{round_id}", f"/count/rounds/{round_id}/{action}", data=data)


def seal_through_the_pages(login_as, round_id, code):
    """Both tellers key one paper sheet alike, then the count and both approvals: sealed. Returns the first
    teller's client."""
    teller, teller2 = login_as("teller"), login_as("teller2")
    for client in (teller, teller2):
        enter(client, round_id, code)
    post(teller, round_id, "finish")
    post(teller, round_id, "approve")
    post(teller2, round_id, "approve")
    return teller


@pytest.mark.parametrize("who,status", [("teller", 200), ("teller2", 200), ("organizer", 403),
                                        ("commune_organizer", 403), ("viewer", 403), ("district_viewer", 403),
                                        ("admin", 403)])
def test_only_the_rounds_board_sees_the_count(login_as, closed, who, status):
    round_id, _codes = closed
    client = login_as(who)
    for page in ("", "/entry", "/entries"):
        assert client.get(f"/count/rounds/{round_id}{page}").status_code == status


def test_anonymous_visitors_are_sent_to_log_in(client, closed):
    round_id, _codes = closed
    response = client.get(f"/count/rounds/{round_id}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_sheet_entered_by_two_tellers_is_settled_and_each_is_told_where_it_stands(login_as, session, closed):
    round_id, codes = closed
    first = enter(login_as("teller"), round_id, tokens.grouped(codes[2]), follow_redirects=True)
    assert first.status_code == 200 and "Lần nhập 1/2" in first.get_data(as_text=True)
    second = enter(login_as("teller2"), round_id, codes[2], follow_redirects=True)
    assert "Các lần nhập khớp nhau (2 người)" in second.get_data(as_text=True)
    assert count_rows(session, PaperEntry) == 2


def test_a_ballot_used_on_a_tablet_is_shown_as_a_duplicate_at_once(login_as, session, closed):
    round_id, codes = closed
    response = enter(login_as("teller"), round_id, codes[0], follow_redirects=True)
    assert "Phiếu trùng: phiếu này đã được dùng trên máy tính bảng" in response.get_data(as_text=True)
    assert count_rows(session, SetAside) == 1 and count_rows(session, PaperEntry) == 0


def test_an_unknown_code_is_collected_and_shown_as_not_issued_by_the_board(login_as, closed):
    round_id, _codes = closed
    response = enter(login_as("teller"), round_id, tokens.code_of(tokens.new_secret()), marks="",
                     follow_redirects=True)
    assert "Không do ban kiểm phiếu phát ra" in response.get_data(as_text=True)


@pytest.mark.parametrize("data,status,message", [
    ({"marks": "123"}, 400, "Nhập một chữ số cho mỗi người"),
    ({"marks": "1239"}, 400, "Nhập một chữ số cho mỗi người"),
    ({"code": "ABCD-EFGH"}, 400, "Mã phiếu không hợp lệ"),
    ({"code": ""}, 400, "Quét hoặc nhập mã phiếu"),
    ({"code": "x" * 300}, 400, "200"),
])
def test_a_malformed_entry_is_refused_with_a_message_and_nothing_is_written(login_as, session, closed, data, status,
                                                                           message):
    round_id, codes = closed
    client = login_as("teller")
    before = count_rows(session, AuditEntry)
    response = enter(client, round_id, **{"code": codes[2], "marks": "1231", **data})
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert count_rows(session, PaperEntry) == 0 and count_rows(session, AuditEntry) == before


def test_entering_into_a_round_that_is_not_closed_is_refused(login_as, session, world, closed):
    round_id, codes = closed
    client = login_as("teller")
    fresh(session).get(Round, round_id).state = "open"
    session.commit()
    response = enter(client, round_id, codes[2])
    assert response.status_code == 409 and "đang mở để bỏ phiếu" in response.get_data(as_text=True)
    assert count_rows(session, PaperEntry) == 0


def test_a_disagreement_is_ruled_by_the_board_then_counted_approved_and_sealed(login_as, session, closed):
    round_id, codes = closed
    teller, teller2 = login_as("teller"), login_as("teller2")
    enter(teller, round_id, codes[2], "1231")
    enter(teller2, round_id, codes[2], "1232")
    page = teller.get(f"/count/rounds/{round_id}").get_data(as_text=True)
    assert "Các lần nhập không khớp" in page and "1231" in page and "1232" in page
    refused = post(teller, round_id, "finish")
    assert refused.status_code == 409 and "chưa được giải quyết" in refused.get_data(as_text=True)
    sheet = fresh(session).scalars(select(PaperEntry.sheet)).first()
    ruled = post(teller2, round_id, f"sheets/{sheet}/ruling", {"marks": "1232"})
    assert ruled.status_code == 303
    assert fresh(session).get(SheetRuling, (round_id, sheet)).marks == b"\x01\x02\x03\x02"
    assert post(teller, round_id, "finish").status_code == 303
    results = teller.get(f"/count/rounds/{round_id}").get_data(as_text=True)
    assert "Tín nhiệm thấp" in results and "66,67" in results  # 2 low of 3 collected for row 3: 66.666… → 66,67
    draft = teller.get(f"/count/rounds/{round_id}/minutes.pdf")
    assert draft.status_code == 200 and draft.mimetype == "application/pdf"
    assert post(teller, round_id, "approve").status_code == 303
    again = post(teller, round_id, "approve")
    assert again.status_code == 409 and "đã phê duyệt" in again.get_data(as_text=True)
    assert count_rows(session, Approval) == 1
    assert post(teller2, round_id, "approve").status_code == 303
    assert fresh(session).get(Round, round_id).state == "sealed"
    envelope = json.loads(teller.get(f"/count/rounds/{round_id}/result.json").data)
    assert envelope["result"]["numbers"]["collected"] == 3 and envelope["result"]["rulings"]["sheets"] == 1
    export = json.loads(teller.get(f"/count/rounds/{round_id}/ballots.json").data)
    assert len(export["ballots"]) == 3


def test_after_the_seal_every_change_is_refused_and_nothing_changes(login_as, session, closed):
    round_id, codes = closed
    teller = seal_through_the_pages(login_as, round_id, codes[2])
    before = count_rows(session, AuditEntry)
    result = fresh(session).get(Result, round_id).document
    assert enter(teller, round_id, codes[3]).status_code == 409
    for action in ("finish", "reopen", "approve", "anomaly"):
        response = post(teller, round_id, action, {"ruling": "x"} if action == "anomaly" else None)
        assert response.status_code == 409 and "đã được niêm phong" in response.get_data(as_text=True), action
    assert count_rows(session, AuditEntry) == before
    assert fresh(session).get(Result, round_id).document == result


def test_nobody_outside_the_board_can_approve(login_as, session, closed):
    round_id, _codes = closed
    for who in ("viewer", "organizer", "admin"):
        response = login_as(who).submit("/", f"/count/rounds/{round_id}/approve")
        assert response.status_code == 403, who
    assert count_rows(session, Approval) == 0


def test_the_sealed_minutes_carry_the_numbers_with_exact_diacritics(login_as, session, closed, tmp_path):
    round_id, codes = closed
    teller = seal_through_the_pages(login_as, round_id, codes[2])
    pdf = teller.get(f"/count/rounds/{round_id}/minutes.pdf")
    path = tmp_path / "minutes.pdf"
    path.write_bytes(pdf.data)
    text = pdfs.text(path)
    assert "BIÊN BẢN KIỂM PHIẾU" in text and "T/M BAN KIỂM PHIẾU" in text and "ĐẢNG ỦY XÃ YÊN BÌNH" in text
    # 2 tablet ballots and 1 paper sheet of 6 issued
    assert "Số phiếu phát ra: 6 phiếu; số phiếu thu về: 3 phiếu; số phiếu không thu về: 3 phiếu." in text
    assert "Nguyễn Văn Hùng" in text and "Ủy viên Ban Thường vụ" in text and "DỰ THẢO" not in text
