"""The kiosk's API (/api/v1) and its no-JS forms: bad input is answered, not obeyed (DESIGN.md promise 7).

Every refusal, every malformed and every oversized request gets a message in Vietnamese and a 4xx, and changes
nothing: no token spent, no ballot, no audit entry. A retry of the same submission is answered "already
recorded"; guessing codes is throttled per tablet; the code never reaches a log; the kiosk pages keep nothing.
"""

from __future__ import annotations

import io
import logging
import re
import secrets as random_source
from dataclasses import dataclass

import pytest
from PIL import Image
from sqlalchemy import func, select

from ballots import box, casting, printing, tokens
from ballots.models import AuditEntry, KioskFailure, SealedBallot, Token
from tests.conftest import fresh
from tests.factories import accounts_with_role, make_conference, make_round

UNKNOWN = "Không có phiếu nào của đợt này mang mã này."
USED = "Phiếu này đã được sử dụng. Mỗi phiếu chỉ được dùng một lần."
VOIDED = "Phiếu này đã bị Ban kiểm phiếu hủy, không thể sử dụng."
WRONG_ROUND = "Phiếu này thuộc đợt lấy phiếu khác, không phải đợt mà máy tính bảng này phục vụ."
NOT_OPEN = "Đợt lấy phiếu này chưa mở hoặc đã kết thúc bỏ phiếu."
MALFORMED = "Mã phiếu không hợp lệ: hãy kiểm tra và nhập lại."
BAD_MARKS = "Nội dung phiếu không hợp lệ: mỗi người được lấy phiếu cần đúng một mức."
BAD_SUBMISSION = "Mã lần gửi phải gồm 16 đến 64 chữ cái, chữ số, dấu gạch ngang hoặc gạch dưới."
NOT_JSON_OBJECT = "Hãy gửi một đối tượng JSON (Content-Type: application/json)."
INVALID_JSON = "Nội dung yêu cầu không phải JSON hợp lệ."
BAD_FRAME = "Hãy gửi một khung hình từ máy ảnh, ảnh JPEG hoặc PNG không quá 2 MB."
FRAME_TOO_LARGE = "Khung hình quá lớn: hãy gửi ảnh không quá 2.073.600 điểm ảnh (trang của máy tính bảng tự làm vậy)."
TOO_LARGE = "Tệp hoặc biểu mẫu gửi lên quá lớn."


def throttled_text(seconds: int) -> str:
    return (f"Không có phiếu nào của đợt này mang mã này, và máy tính bảng này hoặc mạng của nó đã nhập sai mã quá "
            f"nhiều lần gần đây. Hãy chờ {seconds} giây rồi nhập mã tiếp theo.")


NO_PAGE = "Trang này không tồn tại."
NOT_ALLOWED = "Không được phép thực hiện thao tác này ở đây."
NO_ROUND = "Không có đợt lấy phiếu này."
RECORDED = "Phiếu của đồng chí đã được ghi nhận"
RECORDED_AGAIN = "Phiếu của đồng chí đã được ghi nhận trước đó: phiếu chỉ được tính một lần."


def bad_field(name: str) -> str:
    return f"Trường {name} bị thiếu hoặc không hợp lệ."


MIB = 1024 * 1024
TABLET = re.compile(r'data-tablet="([^"]+)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


@dataclass
class Kiosk:
    round_id: int
    codes: list[str]  # unused ballots of the open round, as printed (grouped)
    voided: str
    candidates: int
    cards: list[str]  # the key cards that open the round's ballot box


def marks_in_the_box(session, kiosk: Kiosk) -> list[bytes]:
    """The marks of the round's sealed ballots, as the board reads them with its cards (sorted: no order)."""
    session.rollback()
    key = box.combine([box.parse_card(card) for card in kiosk.cards])
    return sorted(box.unseal(key, kiosk.round_id, sealed) for sealed in session.scalars(
        select(SealedBallot.sealed).where(SealedBallot.round_id == kiosk.round_id)))


@dataclass
class Other:
    round_id: int
    code: str


def open_round(session, world, *, until="open") -> Kiosk:
    """A round of the commune: 10 convened, 8 present and 1 spare; 9 ballots issued, the last voided."""
    built = make_round(session, world, until=until, convened=10, present=8, spares=1, issue=9, void=[-1])
    return Kiosk(round_id=built.id, codes=built.grouped[:-1], voided=built.grouped[-1],
                 candidates=len(built.round.candidates), cards=built.cards())


@pytest.fixture
def kiosk(session, world) -> Kiosk:
    return open_round(session, world)


@pytest.fixture
def other(session, world) -> Other:
    """An open round of another conference, held by the sibling committee."""
    built = make_round(session, world, until="open", conference=make_conference(session, world.sibling),
                       title="Lấy phiếu tín nhiệm BCH xã Hòa Lạc", convened=3, present=3,
                       board=accounts_with_role(session, world, world.sibling, "teller", "teller2"))
    return Other(round_id=built.id, code=built.codes[0])


def unknown_code() -> str:
    """A well-formed code (its check character right) that no ballot has."""
    return tokens.grouped(tokens.code_of(tokens.new_secret()))


def typo(code: str) -> str:
    """The code with one character changed: its check character catches it before any lookup."""
    i = 5 if code[5] != "Z" else 6
    return code[:i] + ("Z" if code[i] != "Z" else "Y") + code[i + 1:]


def submission() -> str:
    return random_source.token_urlsafe(16)


def state(session):
    """What a refusal must leave as it was: every token's state, the ballots, the audit log."""
    fresh(session)
    return (tuple(session.execute(select(Token.id, Token.state, Token.submission_hash).order_by(Token.id))),
            session.scalar(select(func.count()).select_from(SealedBallot)),
            session.scalar(select(func.count()).select_from(AuditEntry)))


def ballots_cast(session) -> int:
    """Tablet ballots in the box (sealed until the board opens it)."""
    session.rollback()
    return session.scalar(select(func.count()).select_from(SealedBallot))


def post_json(client, path, body, **kwargs):
    return client.post(f"/api/v1{path}", json=body, **kwargs)


def cast_body(kiosk: Kiosk, code: str, **overrides):
    body = {"code": code, "marks": "1230"[:kiosk.candidates].ljust(kiosk.candidates, "2"),
            "submission": submission(), "round": kiosk.round_id}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def spend(session, kiosk: Kiosk, code: str) -> None:
    """Cast a ballot through the domain, as another tablet would have."""
    casting.cast_ballot(session, code=code, marks=bytes([2] * kiosk.candidates), submission=submission(),
                        kiosk_round=kiosk.round_id)
    session.commit()


def assert_refused(response, status: int, message: str | None, error: str | None = None, case=None):
    """A refusal in JSON: its status, its message in Vietnamese, the error's name, and no cookie."""
    assert response.status_code == status, (case, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json", case
    body = response.get_json()
    assert set(body) == {"error", "message"}, (case, body)
    if message is not None:
        assert body["message"] == message, (case, body)
    if error is not None:
        assert body["error"] == error, (case, body)
    assert "Set-Cookie" not in response.headers, case


# --- a ballot that cannot be cast now: the same answer from opening it and from casting it ---------------------

REFUSALS = {
    "unknown": (404, UNKNOWN, "UnknownBallot"),
    "used": (409, USED, "BallotAlreadyUsed"),
    "voided": (410, VOIDED, "BallotVoided"),
    "another round": (409, WRONG_ROUND, "WrongRound"),
    "malformed": (400, MALFORMED, "MalformedCode"),
}


def code_for(case: str, session, kiosk: Kiosk, other: Other) -> str:
    if case == "unknown":
        return unknown_code()
    if case == "used":
        spend(session, kiosk, kiosk.codes[0])
        return kiosk.codes[0]
    if case == "voided":
        return kiosk.voided
    if case == "another round":
        return other.code
    return typo(kiosk.codes[0])


@pytest.mark.parametrize("case", sorted(REFUSALS))
@pytest.mark.parametrize("path", ["/ballots/open", "/ballots"])
def test_a_ballot_that_cannot_be_cast_is_refused_in_vietnamese(client, session, kiosk, other, case, path):
    code = code_for(case, session, kiosk, other)
    before = state(session)
    body = {"code": code, "round": kiosk.round_id} if path == "/ballots/open" else cast_body(kiosk, code)
    status, message, error = REFUSALS[case]
    assert_refused(post_json(client, path, body), status, message, error)
    assert state(session) == before


@pytest.mark.parametrize("path", ["/ballots/open", "/ballots"])
def test_a_kiosk_without_a_round_takes_a_ballot_of_any_open_round(client, session, other, path):
    """The page a ballot's QR opens in a camera app (/b) serves no round: the ballot's own round is used."""
    body = {"code": other.code} if path == "/ballots/open" else {"code": other.code, "marks": "2",
                                                                  "submission": submission()}
    response = post_json(client, path, body)
    assert response.status_code in (200, 201), response.get_json()
    assert ballots_cast(session) == (1 if path == "/ballots" else 0)


@pytest.mark.parametrize("until", ["issued", "closed"], ids=["before opening", "after closing"])
@pytest.mark.parametrize("path", ["/ballots/open", "/ballots"])
def test_a_round_not_open_refuses_its_ballots(client, session, world, until, path):
    kiosk = open_round(session, world, until=until)
    before = state(session)
    body = ({"code": kiosk.codes[0], "round": kiosk.round_id} if path == "/ballots/open"
            else cast_body(kiosk, kiosk.codes[0]))
    assert_refused(post_json(client, path, body), 409, NOT_OPEN, "RoundNotOpen")
    assert state(session) == before


# --- malformed requests ----------------------------------------------------------------------------------------

# Each table is walked in one test, on one round (a round is slow to set up): the case is in each failure.

BAD_MARKS_CASES = [
    "123", "12301", [1, 2, 3], [1, 2, 3, 0, 1],  # one mark short, one too many
    "1234", "12 3", "1²30", "１２３０", "-123", "", "12.3", "0x12", " 1230", "1230\n",  # 4 ("several"): paper only
    [1, 2, 3, 4], [1, 2, 3, -1], [1, 2, 3, True], [1, 2, 3, 1.0], [1, 2, 3, "3"], [], [[1], 2, 3, 0],  # a list
    1230, 1.5, True, None, {"0": 1}, ...,  # neither a string nor a list; missing
]


def test_marks_of_the_wrong_length_value_or_type_are_refused(client, session, kiosk):
    assert kiosk.candidates == 4
    before = state(session)
    for marks in BAD_MARKS_CASES:
        response = post_json(client, "/ballots", cast_body(kiosk, kiosk.codes[0], marks=marks))
        assert_refused(response, 400, BAD_MARKS, "InvalidMarks", case=marks)
    assert state(session) == before


BAD_SUBMISSIONS = [
    ("too-short", BAD_SUBMISSION),
    ("has spaces in it, sixteen+", BAD_SUBMISSION),
    ("khong-dau-tieng-việt-1234", BAD_SUBMISSION),
    ("sixteen-or-more-but/slash", BAD_SUBMISSION),
    ("x" * 65, bad_field("submission")),
    ("", bad_field("submission")),
    (1234567890123456789, bad_field("submission")),
    (["a" * 20], bad_field("submission")),
    (None, bad_field("submission")),
    (..., bad_field("submission")),
]


def test_a_bad_submission_id_is_refused(client, session, kiosk):
    before = state(session)
    for value, message in BAD_SUBMISSIONS:
        response = post_json(client, "/ballots", cast_body(kiosk, kiosk.codes[0], submission=value))
        assert_refused(response, 400, message, "InvalidInput", case=value)
    assert state(session) == before


BAD_FIELDS = [
    ("code", ...), ("code", ""), ("code", 12345), ("code", None), ("code", ["ABCD"]), ("code", {"a": 1}),
    ("code", "A" * 201), ("round", "1"), ("round", 0), ("round", -1), ("round", 2**31), ("round", 1.0),
    ("round", True), ("round", [1]), ("round", 10**30),
]


@pytest.mark.parametrize("path", ["/ballots/open", "/ballots"])
def test_a_missing_or_mistyped_field_is_refused(client, session, kiosk, path):
    before = state(session)
    for field, value in BAD_FIELDS:
        body = {"code": kiosk.codes[0], "round": kiosk.round_id} if path == "/ballots/open" else cast_body(
            kiosk, kiosk.codes[0])
        body[field] = value
        body = {k: v for k, v in body.items() if v is not ...}
        assert_refused(post_json(client, path, body), 400, bad_field(field), "InvalidInput", case=(field, value))
    assert state(session) == before


NOT_JSON_OBJECTS = [
    ("code=ABCD", "application/x-www-form-urlencoded", NOT_JSON_OBJECT),
    ("code=ABCD", "multipart/form-data; boundary=x", NOT_JSON_OBJECT),
    ('{"code": "ABCD"}', "text/plain", NOT_JSON_OBJECT),
    ('{"code": "ABCD"}', None, NOT_JSON_OBJECT),
    ('{"code": "ABCD"}', "application/xml", NOT_JSON_OBJECT),
    ('["code", "ABCD"]', "application/json", NOT_JSON_OBJECT),
    ('"ABCD"', "application/json", NOT_JSON_OBJECT),
    ("null", "application/json", NOT_JSON_OBJECT),
    ("42", "application/json", NOT_JSON_OBJECT),
    ('{"code": "ABCD"', "application/json", INVALID_JSON),
    ("", "application/json", INVALID_JSON),
    ("{'code': 'ABCD'}", "application/json", INVALID_JSON),
    (b'{"code": "\xff\xfe"}', "application/json", INVALID_JSON),
    ("[" * 5_000 + "]" * 5_000, "application/json", INVALID_JSON),  # too deep for the parser
    ('{"code": NaN}', "application/json; charset=utf-8", bad_field("code")),  # Python's json takes NaN
    ('{"code": "ABCD", "code": 1}', "application/vnd.api+json", bad_field("code")),  # the last key wins
]


@pytest.mark.parametrize("path", ["/ballots/open", "/ballots"])
def test_a_body_that_is_not_a_json_object_is_refused(client, session, kiosk, path):
    before = state(session)
    for data, content_type, message in NOT_JSON_OBJECTS:
        response = client.post(f"/api/v1{path}", data=data, content_type=content_type)
        assert_refused(response, 400, message, case=(data[:40], content_type))
    assert state(session) == before


@pytest.mark.parametrize("path", ["/ballots/open", "/ballots", "/scan"])
def test_an_oversized_body_is_refused_with_413(client, session, kiosk, path):
    before = state(session)
    big = b'{"code": "' + b"A" * (8 * MIB) + b'"}'
    content_type = "image/png" if path == "/scan" else "application/json"
    response = client.post(f"/api/v1{path}", data=big, content_type=content_type)
    assert_refused(response, 413, TOO_LARGE, "RequestEntityTooLarge")
    assert state(session) == before


def test_an_oversized_frame_is_refused(client, kiosk):
    frame = png_bytes(Image.new("L", (64, 64), 255)) + b"\0" * (2 * MIB)  # a real PNG, then padding past 2 MB
    assert_refused(client.post("/api/v1/scan", data=frame, content_type="image/png"), 400, BAD_FRAME)


@pytest.mark.parametrize("data,content_type", [
    (b"", "image/png"),
    (b"not an image at all", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "image/png"),  # a PNG's signature, then nothing of a PNG
    (b"GIF89a" + b"\0" * 50, "image/gif"),
    ("<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
    ('{"code": "ABCD"}', "application/json"),
])
def test_a_frame_that_is_not_an_image_is_refused(client, data, content_type):
    assert_refused(client.post("/api/v1/scan", data=data, content_type=content_type), 400, BAD_FRAME,
                   "InvalidInput")


def test_a_gif_or_a_huge_image_is_refused(client):
    gif = io.BytesIO()
    Image.new("L", (32, 32), 255).save(gif, format="GIF")
    assert_refused(client.post("/api/v1/scan", data=gif.getvalue(), content_type="image/gif"), 400, BAD_FRAME)
    # a decompression bomb: a small file that claims a 20000 x 20000 picture, refused from its header
    assert_refused(client.post("/api/v1/scan", data=png_bytes(Image.new("1", (20000, 20000), 1)),
                               content_type="image/png"), 400, FRAME_TOO_LARGE)


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_a_frame_without_a_qr_code_is_found_empty(client):
    response = client.post("/api/v1/scan", data=png_bytes(Image.new("L", (320, 240), 200)), content_type="image/png")
    assert response.status_code == 200 and response.get_json() == {"found": False}


def test_a_frame_with_a_ballot_qr_code_is_read(client, kiosk):
    payload = tokens.payload_of_code("https://bauphieu.example.vn", kiosk.codes[0].replace("-", ""))
    side, modules = printing.qr_modules(payload)
    symbol = Image.frombytes("L", (side, side), modules)
    frame = Image.new("L", (side * 12, side * 12), 255)  # a quiet zone around it, as on paper
    frame.paste(symbol.resize((side * 8, side * 8), Image.Resampling.NEAREST), (side * 2, side * 2))
    response = client.post("/api/v1/scan", data=png_bytes(frame), content_type="image/png")
    assert response.status_code == 200 and response.get_json() == {"found": True, "text": payload}
    # and the payload it read opens the ballot
    opened = post_json(client, "/ballots/open", {"code": payload, "round": kiosk.round_id})
    assert opened.status_code == 200 and len(opened.get_json()["candidates"]) == kiosk.candidates


@pytest.mark.parametrize("method,path,status,message", [
    ("get", "/api/v1/nothing-here", 404, NO_PAGE),
    ("post", "/api/v1/ballots/close", 404, NO_PAGE),
    ("get", "/api/v1/ballots", 405, NOT_ALLOWED),
    ("put", "/api/v1/ballots", 405, NOT_ALLOWED),
    ("delete", "/api/v1/ballots/open", 405, NOT_ALLOWED),
    ("get", "/api/v1/scan", 405, NOT_ALLOWED),
])
def test_an_unknown_path_or_method_is_answered_in_json(client, method, path, status, message):
    response = getattr(client, method)(path)
    assert_refused(response, status, message)


def test_the_api_describes_itself(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json()["openapi"].startswith("3.1")


# --- casting exactly once --------------------------------------------------------------------------------------

def test_a_ballot_is_opened_then_cast_once_and_a_retry_is_told_the_truth(client, session, kiosk):
    opened = post_json(client, "/ballots/open", {"code": kiosk.codes[0].lower(), "round": kiosk.round_id})
    assert opened.status_code == 200
    ballot = opened.get_json()
    assert ballot["round"] == kiosk.round_id and ballot["title"] == "Lấy phiếu tín nhiệm BCH"
    assert [c["name"] for c in ballot["candidates"]] == ["Nguyễn Văn Hùng", "Trần Thị Lan", "Lê Đức Thắng",
                                                        "Phạm Thị Hương"]
    assert state(session)[1:] == (0, state(session)[2])  # opening writes nothing

    body = cast_body(kiosk, kiosk.codes[0], marks="1230")
    first = post_json(client, "/ballots", body)
    assert first.status_code == 201
    assert first.get_json() == {"status": "recorded", "message": RECORDED}
    after_cast = state(session)
    assert after_cast[1] == 1
    assert marks_in_the_box(session, kiosk) == [bytes([1, 2, 3, 0])]

    again = post_json(client, "/ballots", body)  # the response was lost: the tablet sends the same again
    assert again.status_code == 200 and again.get_json()["status"] == "already_recorded"
    again_other_marks = post_json(client, "/ballots", {**body, "marks": "3333"})
    assert again_other_marks.status_code == 200 and again_other_marks.get_json()["status"] == "already_recorded"
    assert state(session) == after_cast  # still one ballot, the first one, and no new audit entry
    assert marks_in_the_box(session, kiosk) == [bytes([1, 2, 3, 0])]

    another = post_json(client, "/ballots", {**body, "submission": submission()})
    assert_refused(another, 409, USED, "BallotAlreadyUsed")
    assert_refused(post_json(client, "/ballots/open", {"code": kiosk.codes[0]}), 409, USED)
    assert state(session) == after_cast


def test_a_retry_of_a_refused_cast_is_refused_again(client, session, kiosk):
    body = cast_body(kiosk, kiosk.codes[0], marks="12")
    assert_refused(post_json(client, "/ballots", body), 400, BAD_MARKS)
    assert_refused(post_json(client, "/ballots", body), 400, BAD_MARKS)
    assert post_json(client, "/ballots", {**body, "marks": "1212"}).status_code == 201
    assert ballots_cast(session) == 1


# --- guessing is slowed down, never a genuine voter ------------------------------------------------------------
# Every code is looked up first: a ballot that can be cast is accepted at once whatever its tablet or address sent
# before. A code that matches nothing has its answer held back for a delay growing with the recent failures of
# its tablet (or of its address's requests without a tablet id) and of its address (ballots.guessing); the held
# seconds are recorded here by a spy on the process's gate of held answers instead of being slept.

def new_tablet(client, round_id: int | None = None) -> str:
    page = client.get(f"/kiosk/{round_id}" if round_id else "/b")
    assert page.status_code == 200
    return TABLET.search(page.get_data(as_text=True)).group(1)


@pytest.fixture
def held(app, monkeypatch) -> list[float]:
    """The seconds each answer was held back, in order (recorded, not slept)."""
    held_for: list[float] = []
    gate = app.extensions["trustvote.gates"]["held_answers"]
    monkeypatch.setattr(gate, "try_hold", lambda seconds: held_for.append(seconds) or True)
    return held_for


def guess(client, kiosk, *, path="/ballots/open", tablet=None, code=None):
    body = cast_body(kiosk, code or unknown_code()) if path == "/ballots" else {"code": code or unknown_code(),
                                                                                 "round": kiosk.round_id}
    return post_json(client, path, body, headers={"X-Tablet": tablet} if tablet is not None else {})


def test_a_tablets_wrong_codes_are_answered_ever_later_up_to_a_bound(client, session, kiosk, held):
    tablet = new_tablet(client, kiosk.round_id)
    for path in ["/ballots/open", "/ballots"] * 5:  # ten codes that match no ballot, both ways of voting
        assert_refused(guess(client, kiosk, path=path, tablet=tablet), 404, UNKNOWN, "UnknownBallot")
    # three at once, then 0.5 s doubling up to 5 s (FREE_PER_SOURCE, FIRST_DELAY, MAX_DELAY)
    assert held == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_a_valid_ballot_from_a_tablet_that_guessed_is_accepted_at_once(client, session, kiosk, held):
    tablet = new_tablet(client, kiosk.round_id)
    for _ in range(12):
        guess(client, kiosk, tablet=tablet)
    held.clear()
    opened = post_json(client, "/ballots/open", {"code": kiosk.codes[0], "round": kiosk.round_id},
                       headers={"X-Tablet": tablet})
    assert opened.status_code == 200
    cast = post_json(client, "/ballots", cast_body(kiosk, kiosk.codes[0]), headers={"X-Tablet": tablet})
    assert cast.status_code == 201 and held == []  # neither answer waited
    form = client.post(f"/kiosk/{kiosk.round_id}/ballot", data={"code": kiosk.codes[1], "tablet": tablet})
    assert form.status_code == 200 and held == []
    assert ballots_cast(session) == 1


def test_another_tablet_behind_the_same_address_is_not_slowed_by_its_neighbour(client, session, kiosk, held):
    guesser, neighbour = new_tablet(client, kiosk.round_id), new_tablet(client, kiosk.round_id)
    assert guesser != neighbour
    for _ in range(8):
        guess(client, kiosk, tablet=guesser)
    held.clear()
    # the neighbour's own slip is answered at once: the address is far from its allowance (FREE_PER_ADDRESS)
    assert_refused(guess(client, kiosk, tablet=neighbour), 404, UNKNOWN)
    assert held == []
    assert post_json(client, "/ballots", cast_body(kiosk, kiosk.codes[0]), headers={"X-Tablet": neighbour}
                     ).status_code == 201


def test_an_address_is_slowed_for_all_its_failures_but_never_refuses_a_ballot(client, session, kiosk, held,
                                                                               monkeypatch):
    from ballots import guessing

    tablets = [new_tablet(client, kiosk.round_id) for _ in range(guessing.FREE_PER_ADDRESS // 2 + 1)]
    for tablet in tablets:  # two slips each: no tablet past its own allowance, the address past its own
        guess(client, kiosk, tablet=tablet)
        guess(client, kiosk, tablet=tablet)
    assert held and held[0] == guessing.FIRST_DELAY and all(0 < s <= guessing.MAX_DELAY for s in held)
    held.clear()
    for code in kiosk.codes[:2]:
        assert post_json(client, "/ballots", cast_body(kiosk, code), headers={"X-Tablet": tablets[0]}
                         ).status_code == 201
    assert post_json(client, "/ballots", cast_body(kiosk, kiosk.codes[2])).status_code == 201  # no tablet id at all
    assert held == [] and ballots_cast(session) == 3


def test_a_failure_answered_at_once_when_no_held_answer_is_free_asks_to_wait(app, client, session, kiosk,
                                                                               monkeypatch):
    gate = app.extensions["trustvote.gates"]["held_answers"]
    monkeypatch.setattr(gate, "try_hold", lambda seconds: False)  # every held answer of the process taken
    tablet = new_tablet(client, kiosk.round_id)
    for _ in range(3):
        assert_refused(guess(client, kiosk, tablet=tablet), 404, UNKNOWN)
    before = state(session)
    for path in ("/ballots/open", "/ballots"):
        refused = guess(client, kiosk, path=path, tablet=tablet)
        assert_refused(refused, 429, throttled_text(1 if path == "/ballots/open" else 1), "KioskThrottled")
        assert refused.headers["Retry-After"] == "1"
    form = client.post(f"/kiosk/{kiosk.round_id}/ballot", data={"code": unknown_code(), "tablet": tablet})
    assert form.status_code == 429 and form.headers["Retry-After"] == "2" and throttled_text(2) in form.get_data(
        as_text=True)
    assert state(session)[:2] == before[:2]  # no token, no ballot touched
    # a ballot from the same tablet is still accepted at once
    assert post_json(client, "/ballots", cast_body(kiosk, kiosk.codes[0]), headers={"X-Tablet": tablet}
                     ).status_code == 201


def test_the_failures_kept_name_no_code(client, session, kiosk):
    tablet = new_tablet(client, kiosk.round_id)
    code = unknown_code()
    post_json(client, "/ballots/open", {"code": code}, headers={"X-Tablet": tablet})
    session.rollback()
    rows = session.execute(select(KioskFailure.tablet, KioskFailure.address)).all()
    assert len(rows) == 1 and rows[0].address == "127.0.0.1" and rows[0].tablet.startswith("tablet:")
    assert code not in repr(rows) and code.replace("-", "") not in repr(rows)


def failures_by_source(session) -> dict[str, int]:
    session.rollback()
    return dict(session.execute(select(KioskFailure.tablet, func.count()).group_by(KioskFailure.tablet)).all())


@pytest.mark.parametrize("what", ["none", "forged", "expired", "another round's", "over the allowance"])
def test_a_request_without_a_tablet_id_of_its_own_counts_as_its_address(client, session, kiosk, other, held,
                                                                          monkeypatch, what):
    """Minting ids is no way around a delay: anything but a valid id, handed out within its address's allowance by
    the page of the round asked for, counts as the address's anonymous requests (FREE_PER_SOURCE, like a tablet)."""
    from app.kiosk import tablets
    from ballots import guessing

    def tablet_id(i: int) -> str | None:
        if what == "none":
            return None
        if what == "forged":
            return f"forged-{i}"
        if what == "expired":
            monkeypatch.setattr(tablets, "TABLET_LIFETIME", -1)
            return new_tablet(client, kiosk.round_id)
        if what == "another round's":
            return new_tablet(client, other.round_id)
        monkeypatch.setattr(guessing, "MINTS_PER_ADDRESS", 0)
        return new_tablet(client, kiosk.round_id)

    for i in range(guessing.FREE_PER_SOURCE + 2):
        assert_refused(guess(client, kiosk, tablet=tablet_id(i)), 404, UNKNOWN)
    assert failures_by_source(session) == {"address:127.0.0.1": guessing.FREE_PER_SOURCE + 2}
    assert held == [0.5, 1.0]


def test_an_address_is_handed_only_so_many_tablet_ids(client, session, kiosk, monkeypatch):
    from ballots import guessing
    from ballots.models import KioskTablet

    monkeypatch.setattr(guessing, "MINTS_PER_ADDRESS", 3)
    ids = [new_tablet(client, kiosk.round_id) for _ in range(5)]
    assert len(set(ids)) == 5  # every page works and has an id...
    for tablet in ids:
        guess(client, kiosk, tablet=tablet)
    by_source = failures_by_source(session)
    assert sum(1 for source in by_source if source.startswith("tablet:")) == 3  # ...but only three count as tablets
    assert by_source["address:127.0.0.1"] == 2
    assert session.scalar(select(func.count()).select_from(KioskTablet)) == 3


def test_guessing_through_the_no_script_forms_is_slowed_too(client, session, kiosk, held):
    tablet = new_tablet(client, kiosk.round_id)
    form = {"submission": submission(), "count": "4", "tablet": tablet, **{f"mark-{i}": "1" for i in range(4)}}
    for _ in range(3):
        assert client.post(f"/kiosk/{kiosk.round_id}/cast", data={**form, "code": unknown_code()}).status_code == 404
        assert client.post(f"/kiosk/{kiosk.round_id}/ballot", data={"code": unknown_code(), "tablet": tablet}
                           ).status_code == 404
    assert held == [0.5, 1.0, 2.0]
    recorded = client.post(f"/kiosk/{kiosk.round_id}/cast", data={**form, "code": kiosk.codes[0]})
    assert recorded.status_code == 200 and RECORDED in recorded.get_data(as_text=True)
    assert ballots_cast(session) == 1


# --- nothing of a voter is logged or kept ----------------------------------------------------------------------

def test_no_log_record_carries_the_code(app, client, session, kiosk, caplog):
    caplog.set_level(logging.DEBUG)
    for name in (app.logger.name, "werkzeug"):
        caplog.set_level(logging.DEBUG, logger=name)
    code = kiosk.codes[0]
    tablet = new_tablet(client, kiosk.round_id)
    sent = submission()
    assert post_json(client, "/ballots/open", {"code": code, "round": kiosk.round_id},
                     headers={"X-Tablet": tablet}).status_code == 200
    assert post_json(client, "/ballots", cast_body(kiosk, code, submission=sent),
                     headers={"X-Tablet": tablet}).status_code == 201
    assert post_json(client, "/ballots", cast_body(kiosk, code), headers={"X-Tablet": tablet}).status_code == 409
    form = client.post(f"/kiosk/{kiosk.round_id}/ballot", data={"code": kiosk.codes[1], "tablet": tablet})
    assert form.status_code == 200
    fields = dict(HIDDEN.findall(form.get_data(as_text=True)))
    cast = client.post(f"/kiosk/{kiosk.round_id}/cast", data={**fields, **{f"mark-{i}": "2" for i in range(4)}})
    assert cast.status_code == 200
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    for secret in (code, code.replace("-", ""), kiosk.codes[1], kiosk.codes[1].replace("-", ""), sent):
        for form_ in (secret, secret.lower()):
            assert form_ not in logged


@pytest.mark.parametrize("method,path,data", [
    ("get", "/kiosk/{round}", None),
    ("get", "/b", None),
    ("post", "/kiosk/{round}/ballot", {"code": "{code}"}),
    ("post", "/kiosk/{round}/ballot", {"code": "không phải mã"}),
    ("post", "/kiosk/{round}/cast", {"code": "{code}", "submission": "{submission}", "count": "4",
                                     **{f"mark-{i}": "1" for i in range(4)}}),
    ("post", "/kiosk/{round}/cast", {"code": "{code}"}),
])
def test_the_kiosk_pages_set_no_cookie_and_are_never_cached(client, kiosk, method, path, data):
    values = {"round": kiosk.round_id, "code": kiosk.codes[0], "submission": submission()}
    data = {k: v.format(**values) for k, v in data.items()} if data else None
    response = getattr(client, method)(path.format(**values), data=data)
    assert response.status_code < 500
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get_cookie("trustvote") is None


# --- the same pages without JavaScript -------------------------------------------------------------------------

def test_the_no_javascript_forms_cast_a_ballot_end_to_end(client, session, kiosk):
    page = client.get(f"/kiosk/{kiosk.round_id}").get_data(as_text=True)
    assert f'action="/kiosk/{kiosk.round_id}/ballot"' in page
    tablet = TABLET.search(page).group(1)

    form = client.post(f"/kiosk/{kiosk.round_id}/ballot", data={"code": kiosk.codes[0].lower(), "tablet": tablet})
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert f'action="/kiosk/{kiosk.round_id}/cast"' in html
    for i in range(kiosk.candidates):
        for value in "123":
            assert f'<input type="radio" name="mark-{i}" value="{value}">' in html
    assert 'name="mark-4"' not in html
    fields = dict(HIDDEN.findall(html))
    assert set(fields) == {"code", "submission", "tablet", "count"} and fields["count"] == "4"
    assert state(session)[1] == 0

    marks = {"mark-0": "1", "mark-1": "3", "mark-3": "2"}  # the third row left unmarked
    recorded = client.post(f"/kiosk/{kiosk.round_id}/cast", data={**fields, **marks})
    assert recorded.status_code == 200
    html = recorded.get_data(as_text=True)
    assert RECORDED in html
    # back to the scan page when the next delegate taps, not on a timer (WCAG 2.2.1; the page holds no mark)
    assert "http-equiv" not in html and f'href="/kiosk/{kiosk.round_id}"' in html
    assert marks_in_the_box(session, kiosk) == [bytes([1, 3, 0, 2])]
    assert session.scalar(select(Token.state).where(Token.submission_hash.is_not(None))) == "cast"

    # the browser sends the form again (a reload): told the truth, counted once
    again = client.post(f"/kiosk/{kiosk.round_id}/cast", data={**fields, **marks})
    assert again.status_code == 200 and RECORDED_AGAIN in again.get_data(as_text=True)
    # another form for the same sheet (opened on a second tablet): refused
    other = client.post(f"/kiosk/{kiosk.round_id}/cast", data={**fields, **marks, "submission": submission()})
    assert other.status_code == 409 and USED in other.get_data(as_text=True)
    assert ballots_cast(session) == 1


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_the_no_javascript_forms_refuse_in_vietnamese(client, session, kiosk, other, case):
    code = code_for(case, session, kiosk, other)
    before = state(session)
    status, message, _error = REFUSALS[case]
    for action, data in (("ballot", {"code": code}),
                         ("cast", {"code": code, "submission": submission(), "count": "4", "mark-0": "1"})):
        response = client.post(f"/kiosk/{kiosk.round_id}/{action}", data=data)
        assert response.status_code == status, (action, response.status_code)
        html = response.get_data(as_text=True)
        assert message in html and "Quay lại quét mã" in html, action
        assert response.headers["Cache-Control"] == "no-store"
    assert state(session) == before


BAD_CAST_FORMS = [
    ({}, 400, BAD_MARKS),  # the marks are read first
    ({"count": "4"}, 400, MALFORMED),
    ({"code": "{code}", "count": "4", "mark-0": "1"}, 400, BAD_SUBMISSION),
    ({"code": "{code}", "submission": "{submission}"}, 400, BAD_MARKS),  # no count: no marks
    ({"code": "{code}", "submission": "{submission}", "count": "3", "mark-0": "1"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "5", "mark-0": "1"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "-4"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "bốn"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "²"}, 400, BAD_MARKS),  # a digit int() refuses
    ({"code": "{code}", "submission": "{submission}", "count": "9" * 5000}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "4", "mark-0": "4"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "4", "mark-0": "12"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "4", "mark-0": "x"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "4", "mark-0": "²"}, 400, BAD_MARKS),
    ({"code": "{code}", "submission": "{submission}", "count": "4", "mark-0": "1", "mark-1": "²"}, 400, BAD_MARKS),
]


def test_a_malformed_cast_form_is_refused(client, session, kiosk):
    before = state(session)
    for data, status, message in BAD_CAST_FORMS:
        values = {"code": kiosk.codes[0], "submission": submission()}
        data = {k: v.format(**values) for k, v in data.items()}
        response = client.post(f"/kiosk/{kiosk.round_id}/cast", data=data)
        assert response.status_code == status and message in response.get_data(as_text=True), data
        assert "Set-Cookie" not in response.headers and response.headers["Cache-Control"] == "no-store"
    assert state(session) == before


@pytest.mark.parametrize("action", ["ballot", "cast"])
def test_an_oversized_kiosk_form_is_refused_with_413(client, session, kiosk, action):
    before = state(session)
    response = client.post(f"/kiosk/{kiosk.round_id}/{action}", data={"code": kiosk.codes[0], "x": "A" * (8 * MIB)})
    assert response.status_code == 413 and TOO_LARGE in response.get_data(as_text=True)
    assert state(session) == before


@pytest.mark.parametrize("path,status,message", [
    ("/kiosk/999999", 404, NO_ROUND),
    ("/kiosk/2147483648", 404, NO_PAGE),  # past any row id: no lookup (SQLite's driver overflows past 2**63)
    ("/kiosk/99999999999999999999999", 404, NO_PAGE),
    ("/kiosk/-1", 404, NO_PAGE),
    ("/kiosk/abc", 404, NO_PAGE),
])
def test_a_kiosk_for_no_round_is_a_404(client, path, status, message):
    response = client.get(path)
    assert response.status_code == status and message in response.get_data(as_text=True)
    for action in ("ballot", "cast"):
        response = client.post(f"{path}/{action}", data={"code": unknown_code()})
        assert response.status_code in (400, 404, 409) and "Set-Cookie" not in response.headers


def test_a_kiosk_form_of_another_round_refuses_the_ballot(client, session, kiosk, other):
    """The round in the form's URL is the kiosk's round, even one that does not exist."""
    for round_id in (other.round_id, 999999):
        response = client.post(f"/kiosk/{round_id}/ballot", data={"code": kiosk.codes[0]})
        assert response.status_code == 409 and WRONG_ROUND in response.get_data(as_text=True)


def test_api_answers_are_never_cached(client, kiosk):
    opened = post_json(client, "/ballots/open", {"code": kiosk.codes[0]})
    refused = post_json(client, "/ballots/open", {"code": unknown_code()})
    assert opened.headers["Cache-Control"] == refused.headers["Cache-Control"] == "no-store"
