"""Scanned paper ballots through the app: a batch of the round's own sheets (printed, marked, scanned: one
doubtful, one upside down) and a page of another round uploaded; only the round's board sees the pages and the
images; bad input answered page by page; confirmation, the count and the seal; the images gone at the seal."""

import io
import json

import pytest
from PIL import Image

from ballots.models import AuditEntry, PaperEntry, ScanImage, ScanPage
from tests import scan_batch
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.conftest import count_rows, csrf_from, fresh
from tests.factories import TELLERS, make_round

MARKS = ("1231", "3111", "2213")


@pytest.fixture
def closed(session, world):
    """4 candidates, 6 ballots issued, 1 cast on a tablet, voting closed; board: teller and teller2."""
    return make_round(session, world, until="closed", board=TELLERS, issue=6, tablet=[b"\x01\x02\x03\x03"])


@pytest.fixture
def batch(closed):
    """Three sheets of the round (the second with a faint mark, the third upside down) in one PDF."""
    sheets = [scan_batch.Sheet(closed.secrets[1], MARKS[0]),
              scan_batch.Sheet(closed.secrets[2], MARKS[1], faint_row=2),
              scan_batch.Sheet(closed.secrets[3], MARKS[2], upside_down=True)]
    return scan_batch.pdf_of(scan_batch.pages(closed.round, sheets))


def upload(client, round_id, *files, json_answer=True):
    """Send the files as the page's form does (the body encoded here in memory: the test client's own encoder
    spools a large body to a file it never closes)."""
    page = f"/count/rounds/{round_id}/scans"
    token = csrf_from(client.get(page).get_data(as_text=True))
    boundary, body = encode_multipart(MultiDict([("csrf_token", token)] + [
        ("file", FileStorage(io.BytesIO(data), filename=name)) for name, data in files]))
    headers = {"Accept": "application/json"} if json_answer else {}
    return client.post(page, data=body, content_type=f"multipart/form-data; boundary={boundary}", headers=headers)


def test_a_scanned_batch_is_read_page_by_page(login_as, session, closed, batch):
    answer = upload(login_as("teller"), closed.id, ("to-quet.pdf", batch))
    assert answer.status_code == 200
    pages = answer.get_json()["pages"]
    assert [(p["page"], p["outcome"]) for p in pages] == [(1, "read"), (2, "review"), (3, "read")]
    assert "Máy quét không chắc chắn" in pages[1]["message"]
    stored = fresh(session).query(ScanPage).order_by(ScanPage.id).all()
    assert [bytes(p.marks).hex() if p.marks else None for p in stored] == ["01020301", None, "02020103"]
    assert stored[1].rows[2] is None  # the faint row


@pytest.mark.parametrize("who,status", [("teller", 200), ("teller2", 200), ("organizer", 403),
                                        ("commune_organizer", 403), ("viewer", 403), ("admin", 403)])
def test_only_the_rounds_board_sees_the_scans_and_their_images(login_as, session, closed, batch, who, status):
    upload(login_as("teller"), closed.id, ("to-quet.pdf", batch))
    page_id = fresh(session).query(ScanPage.id).order_by(ScanPage.id).first()[0]
    client = login_as(who)
    for url in ("/scans", f"/scans/{page_id}"):
        assert client.get(f"/count/rounds/{closed.id}{url}").status_code == status
    image = client.get(f"/count/rounds/{closed.id}/scans/{page_id}/image")
    assert image.status_code == status
    if status == 200:
        assert image.content_type == "image/png" and image.headers["Cache-Control"] == "no-store"
        assert Image.open(io.BytesIO(image.data)).size[0] > 300


def test_a_teller_of_another_board_cannot_see_the_images(login_as, session, world, closed, batch):
    other = make_round(session, world, until="closed", board=("teller2",), issue=2, title="Đợt khác")
    upload(login_as("teller"), closed.id, ("to-quet.pdf", batch))
    page_id = fresh(session).query(ScanPage.id).first()[0]
    # teller2 sits on the other round's board: its page id in that round's URL finds nothing of this round
    assert login_as("teller2").get(f"/count/rounds/{other.id}/scans/{page_id}/image").status_code == 404


def test_bad_input_is_answered_page_by_page_and_the_rest_carries_on(login_as, session, world, closed, batch):
    other = make_round(session, world, until="issued", board=TELLERS, issue=1, title="Đợt khác")
    foreign = scan_batch.png_of(scan_batch.pages(other.round, [scan_batch.Sheet(other.secrets[0], "1111")])[0])
    bomb = io.BytesIO()
    Image.new("L", (1, 1)).save(bomb, format="PNG")
    header = bytearray(bomb.getvalue())
    header[16:24] = (60000).to_bytes(4, "big") * 2  # a 60,000 × 60,000 image declared in a few bytes
    client = login_as("teller")
    answers = [upload(client, closed.id, file).get_json()["pages"] for file in (
        ("ghi-chu.txt", "không phải ảnh".encode()), ("bom.png", bytes(header)), ("to-quet.pdf", batch),
        ("khac.png", foreign), ("to-quet-lai.pdf", batch))]
    assert [a["outcome"] for a in answers[0]] == ["refused"] and "ghi-chu.txt" in answers[0][0]["message"]
    assert [a["outcome"] for a in answers[1]] == ["refused"]
    assert [a["outcome"] for a in answers[2]] == ["read", "review", "read"]
    assert [a["outcome"] for a in answers[3]] == ["read"] and "Không do Ban kiểm phiếu" in answers[3][0]["message"]
    # the same batch scanned twice: every page refused, named, nothing written again
    assert [a["outcome"] for a in answers[4]] == ["refused"] * 3
    assert "đã được quét" in answers[4][0]["message"]
    assert count_rows(session, ScanPage) == 4 and count_rows(session, ScanImage) == 4


def test_without_the_pages_script_the_files_are_sent_together_and_listed(login_as, closed, batch):
    answer = upload(login_as("teller"), closed.id, ("to-quet.pdf", batch), ("ghi-chu.txt", b"abc"),
                    json_answer=False)
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert text.count('class="scan-read"') == 2 and text.count('class="scan-review"') == 1
    assert text.count('class="scan-refused"') == 1


def test_an_upload_of_another_state_or_too_large_is_refused_with_nothing_written(login_as, session, world, closed,
                                                                                 batch):
    built = make_round(session, world, until="open", board=TELLERS, issue=2, title="Đợt khác")
    answer = upload(login_as("teller"), built.id, ("to-quet.pdf", batch))
    assert answer.status_code == 409 and answer.get_json()["error"]
    huge = upload(login_as("teller"), closed.id, ("lon.pdf", b"%PDF" + b"0" * (49 * 1024 * 1024)))
    assert huge.status_code == 413
    assert count_rows(session, ScanPage) == 0


def test_confirmed_scans_are_counted_and_the_images_deleted_at_the_seal(login_as, session, closed, batch):
    teller, teller2 = login_as("teller"), login_as("teller2")
    upload(teller, closed.id, ("to-quet.pdf", batch))
    first, doubtful, third = [p for p, in fresh(session).query(ScanPage.id).order_by(ScanPage.id)]
    base = f"/count/rounds/{closed.id}/scans"
    # one keystroke: the confirm button of the review screen
    for page_id in (first, third):
        answer = teller2.submit(f"{base}/{page_id}", f"{base}/{page_id}/confirm")
        assert answer.status_code == 303
    # the doubtful sheet cannot be confirmed; the teller keys it, and it goes to the board
    assert 'action="' + f"{base}/{doubtful}/confirm" not in teller2.get(f"{base}/{doubtful}").get_data(as_text=True)
    refused = teller2.submit(f"{base}/{doubtful}", f"{base}/{doubtful}/confirm")
    assert refused.status_code == 409
    teller2.submit(f"{base}/{doubtful}", f"{base}/{doubtful}/reading", data={"marks": MARKS[1]})
    log = teller.get(f"/count/rounds/{closed.id}/entries").get_data(as_text=True)
    assert log.count("Máy quét") == 3  # the scanner's entry of each sheet, apart from the tellers'
    overview = teller.get(f"/count/rounds/{closed.id}").get_data(as_text=True)
    assert f"{base}/{doubtful}/image" in overview  # the board rules with the image in front of it
    sheet = fresh(session).get(ScanPage, doubtful).sheet
    teller.submit(f"/count/rounds/{closed.id}", f"/count/rounds/{closed.id}/sheets/{sheet}/ruling",
                  data={"marks": MARKS[1]})
    for client, action in ((teller, "finish"), (teller, "approve"), (teller2, "approve")):
        assert client.submit(f"/count/rounds/{closed.id}", f"/count/rounds/{closed.id}/{action}").status_code == 303
    assert count_rows(session, ScanImage) == 0 and count_rows(session, PaperEntry) == 3
    deleted = fresh(session).query(AuditEntry).filter(AuditEntry.action == "scans.delete").one()
    assert json.loads(deleted.details) == {"pages": 3}
    gone = teller.get(f"{base}/{first}/image")
    assert gone.status_code == 409
    scanned = json.loads(teller.get(f"/count/rounds/{closed.id}/result.json").data)["result"]["scanned"]
    assert (scanned["pages"], scanned["confirmed"], scanned["confirmed_by"]) == (3, 2, {"teller2": 2})


def test_files_are_read_a_few_at_a_time_and_a_busy_server_says_so_before_reading(app, login_as, session, closed,
                                                                                 batch):
    gate = app.extensions["trustvote.gates"]["scans"]
    taken = [gate._slots.acquire(blocking=False) for _ in range(gate.slots)]  # every slot busy reading
    queue, gate.queue = gate.queue, 0
    try:
        answer = upload(login_as("teller"), closed.id, ("to-quet.pdf", batch))
    finally:
        gate.queue = queue
        for held in taken:
            if held:
                gate._slots.release()
    assert all(taken) and answer.status_code == 503 and answer.headers["Retry-After"]
    assert count_rows(session, ScanPage) == 0
    assert upload(login_as("teller"), closed.id, ("to-quet.pdf", batch)).status_code == 200  # and then it reads


def test_a_page_whose_qr_cannot_be_read_waits_for_a_teller_to_type_its_code(login_as, session, closed):
    page = scan_batch.pages(closed.round, [scan_batch.Sheet(closed.secrets[4], "1111", qr_torn=True)])[0]
    teller = login_as("teller")
    [answer] = upload(teller, closed.id, ("rach.png", scan_batch.png_of(page))).get_json()["pages"]
    assert answer["outcome"] == "review" and "Không đọc được mã QR" in " ".join(answer["reasons"])
    page_id = fresh(session).query(ScanPage.id).one()[0]
    assert "Trang quét " + str(page_id) in teller.get(f"/count/rounds/{closed.id}/entries").get_data(as_text=True)
    base = f"/count/rounds/{closed.id}/scans/{page_id}"
    screen = teller.get(base).get_data(as_text=True)
    assert 'name="code"' in screen and f"{base}/confirm" not in screen
    answer = teller.submit(base, f"{base}/reading", data={"code": closed.grouped[4], "marks": "1111"})
    assert answer.status_code == 303
    stored = fresh(session).get(ScanPage, page_id)
    assert stored.sheet.startswith("t") and stored.identified_by == fresh(session).query(PaperEntry.teller_id).one()[0]
