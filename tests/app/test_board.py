"""The ballots page: issuing and printing (plain and streamed with progress), voiding, accounting, who may."""

import json

import pytest
from sqlalchemy import func, select

from ballots import box, tokens
from ballots.models import AuditEntry, Round, Token
from tests import pdfs
from tests.conftest import fresh
from tests.factories import make_round


NUMBERS = {"convened": 10, "present": 8, "spares": 1}


@pytest.fixture
def round_id(session, world):
    """A round in draft with teller on its board: 10 convened, 8 present, 1 spare ballot declared."""
    return make_round(session, world, **NUMBERS).id


def tokens_of(session, round_id):
    return fresh(session).scalar(select(func.count()).select_from(Token).where(Token.round_id == round_id))


def issue(client, round_id, count, paper="A4", stream=False):
    headers = {"Accept": "application/x-ndjson"} if stream else {}
    return client.submit(f"/rounds/{round_id}/ballots", f"/rounds/{round_id}/ballots/issue",
                         data={"count": str(count), "paper": paper}, headers=headers)


@pytest.mark.parametrize("who,status", [("organizer", 200), ("commune_organizer", 200), ("teller", 200),
                                        ("teller2", 403), ("viewer", 403), ("district_viewer", 403),
                                        ("admin", 403)])
def test_the_ballots_page_is_for_organizers_and_the_rounds_board(login_as, round_id, who, status):
    assert login_as(who).get(f"/rounds/{round_id}/ballots").status_code == status


def test_issuing_without_javascript_answers_with_the_pdf(login_as, session, round_id):
    response = issue(login_as("teller"), round_id, 3)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF") and "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    assert tokens_of(session, round_id) == 3
    assert session.get(Round, round_id).state == "issued"


def test_issuing_streams_progress_then_the_pdf(login_as, session, round_id):
    response = issue(login_as("organizer"), round_id, 8, paper="A5", stream=True)
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    body = response.data
    lines, rest = [], body
    while True:
        line, rest = rest.split(b"\n", 1)
        lines.append(json.loads(line))
        if "pdf" in lines[-1]:
            break
    assert lines[-2] == {"done": 8}
    assert len(rest) == lines[-1]["pdf"] and rest.startswith(b"%PDF") and rest.rstrip().endswith(b"%%EOF")
    assert lines[-1]["filename"].endswith(".pdf")
    assert tokens_of(session, round_id) == 8


def test_the_page_counts_the_ballots(login_as, session, round_id):
    client = login_as("teller")
    issue(client, round_id, 9)
    page = client.get(f"/rounds/{round_id}/ballots").get_data(as_text=True)
    assert "Đã phát" in page and "còn được phát thêm 0 phiếu" in page


@pytest.mark.parametrize("count,status,message", [
    (10, 400, "Phát thêm 10 phiếu sẽ thành 10 phiếu, nhiều hơn 8 người có mặt cộng 1 phiếu dự phòng đã khai báo."),
    (0, 400, "Mỗi lần phát từ 1 đến 5000 phiếu."),
])
def test_a_refused_issue_says_why_and_writes_nothing(login_as, session, round_id, count, status, message):
    client = login_as("teller")
    audit_before = session.scalar(select(func.count()).select_from(AuditEntry))
    response = issue(client, round_id, count)
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert tokens_of(session, round_id) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    streamed = issue(client, round_id, count, stream=True)
    assert streamed.status_code == status and message in streamed.get_json()["error"]


def test_without_quorum_no_ballot_is_issued(login_as, session, world):
    round_id = make_round(session, world, convened=10, present=6).id  # 3*6 = 18 < 20 = 2*10
    response = issue(login_as("teller"), round_id, 1)
    assert response.status_code == 409
    assert "6 người có mặt trên 10 người được triệu tập, chưa đủ hai phần ba" in response.get_data(as_text=True)
    assert tokens_of(session, round_id) == 0


def test_issuing_needs_the_csrf_token(login_as, session, round_id):
    response = login_as("teller").post(f"/rounds/{round_id}/ballots/issue", data={"count": "1", "paper": "A4"})
    assert response.status_code == 400 and tokens_of(session, round_id) == 0


def test_a_lost_sheet_is_voided_by_its_code_and_a_new_one_issued(login_as, session, world):
    client = login_as("teller")
    issued = make_round(session, world, until="issued", issue=9, **NUMBERS)  # 8 present + 1 spare: no room left
    round_id, code = issued.id, issued.grouped[4]
    response = client.submit(f"/rounds/{round_id}/ballots", f"/rounds/{round_id}/ballots/void",
                             data={"code": code.lower(), "reason": "Đại biểu làm rơi phiếu"})
    assert response.status_code == 303
    assert "Đã hủy phiếu." in client.get(response.headers["Location"]).get_data(as_text=True)
    session.rollback()
    assert session.scalar(select(Token.void_reason).where(Token.state == "void")) == "Đại biểu làm rơi phiếu"
    assert issue(client, round_id, 1).status_code == 200  # the room the void made


@pytest.mark.parametrize("code,status,message", [
    ("ABCD-EFGH", 400, "Mã phiếu không hợp lệ: hãy kiểm tra và nhập lại."),
    (None, 404, "Không có phiếu nào của đợt này mang mã này."),
])
def test_a_bad_code_to_void_is_refused_and_nothing_changes(login_as, session, world, code, status, message):
    round_id = make_round(session, world, until="issued", issue=2, **NUMBERS).id
    code = code or tokens.grouped(tokens.code_of(tokens.new_secret()))
    response = login_as("teller").submit(f"/rounds/{round_id}/ballots", f"/rounds/{round_id}/ballots/void",
                                         data={"code": code, "reason": "mất phiếu"})
    assert response.status_code == status and message in response.get_data(as_text=True)
    session.rollback()
    assert set(session.scalars(select(Token.state).where(Token.round_id == round_id))) == {"issued"}


def test_voiding_twice_is_refused_with_409(login_as, session, world):
    issued = make_round(session, world, until="issued", issue=1, **NUMBERS)
    round_id = issued.id
    client = login_as("teller")
    data = {"code": issued.codes[0], "reason": "hỏng"}
    client.submit(f"/rounds/{round_id}/ballots", f"/rounds/{round_id}/ballots/void", data=data)
    response = client.submit(f"/rounds/{round_id}/ballots", f"/rounds/{round_id}/ballots/void", data=data)
    assert response.status_code == 409
    assert "Không thể hủy phiếu này: phiếu đã bị hủy." in response.get_data(as_text=True)


def test_the_board_member_sees_the_round_on_the_home_page(login_as, round_id):
    page = login_as("teller").get("/").get_data(as_text=True)
    assert "Ban kiểm phiếu đồng chí tham gia" in page and f"/rounds/{round_id}/ballots" in page


def test_the_downloaded_pdf_holds_exactly_the_secrets_whose_hashes_the_database_keeps(login_as, session, round_id,
                                                                                     tmp_path):
    response = issue(login_as("teller"), round_id, 6, paper="A5")
    pdf = tmp_path / "phieu.pdf"
    pdf.write_bytes(response.data)
    texts = [text for page in pdfs.qr_texts(pdf) for text in page]
    cards = [text for text in texts if text.startswith(box.CARD_PREFIX)]  # the first pages: the box's key cards
    decoded = [tokens.secret_of(text) for text in texts if text not in cards]
    assert len(decoded) == 6 == len(set(decoded))
    assert len(cards) == len(set(cards)) == 2  # a board of one, and the recovery card
    session.rollback()
    stored = set(session.scalars(select(Token.secret_hash).where(Token.round_id == round_id)))
    assert {tokens.hash_secret(secret) for secret in decoded} == stored
