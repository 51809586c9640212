"""The kiosk's script when the server cannot answer for now (issue 13): a 503 with Retry-After, to opening a ballot
and to casting it, is waited out and the same request sent again by itself; the cast's retry carries the same
submission id, and the ballot is recorded once. The 503s are played by the browser's own routing (the server
side of an outage is tested in tests/app/test_outage.py and tests/reliability/test_abuse.py).
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, Route, expect
from sqlalchemy import func, select

from ballots.models import SealedBallot, Token
from tests.conftest import fresh
from tests.factories import make_round

pytestmark = pytest.mark.browser

BUSY = {"error": "DatabaseUnavailable", "message": "Máy chủ tạm thời không kết nối được cơ sở dữ liệu."}


def test_the_kiosk_waits_out_a_503_and_sends_the_same_cast_again(page: Page, session, world):
    voting = make_round(session, world, until="open", issue=3)
    sent: dict[str, list[dict]] = {"open": [], "cast": []}

    def once_unavailable(kind: str):
        def handle(route: Route) -> None:
            sent[kind].append(json.loads(route.request.post_data))
            if len(sent[kind]) == 1:
                route.fulfill(status=503, headers={"Retry-After": "1"}, content_type="application/json",
                              body=json.dumps(BUSY))
            else:
                route.continue_()
        return handle

    page.route("**/api/v1/ballots/open", once_unavailable("open"))
    page.route("**/api/v1/ballots", once_unavailable("cast"))
    page.goto(f"/kiosk/{voting.id}")
    page.get_by_label("Hoặc nhập mã in dưới mã QR").fill(voting.grouped[0])
    page.keyboard.press("Enter")
    expect(page.locator("#scan-error")).to_have_text("Mạng chậm; đang thử lại…")
    expect(page.locator("#ballot-screen")).to_be_visible()  # opened on the second try, by itself
    for row in page.locator(".ballot-row").all():
        row.get_by_role("button").first.click()
    page.get_by_role("button", name="Tiếp tục").click()
    page.locator("#confirm-screen").get_by_role("button", name="Xác nhận bỏ phiếu").click()
    expect(page.locator("#recorded-screen")).to_be_visible(timeout=15_000)
    expect(page.locator("#recorded-text")).to_have_text("Phiếu của đồng chí đã được ghi nhận")

    assert len(sent["open"]) == 2 and sent["open"][0] == sent["open"][1]
    assert len(sent["cast"]) == 2 and sent["cast"][0] == sent["cast"][1]  # the same submission id
    assert fresh(session).scalar(select(func.count()).select_from(SealedBallot)) == 1
    assert session.scalar(select(func.count()).select_from(Token).where(Token.state == "cast")) == 1
