"""The venue in a browser (issue 16; issue 12, item 5).

- Chromium trusting the venue's authority (its --ignore-certificate-errors-spki-list, the server key's SPKI hash)
  on the server `make venue` runs: the kiosk is a secure context and its camera is on; the venue checklist lists
  the tablet with the certificate installed.
- A tablet reaching the server over plain HTTP under a name of the network: no secure context, the kiosk says what
  to do, and the checklist shows that tablet without the certificate.
- The ballots page, before the one-time print, warns when the QR's address is a loopback address or not the one
  the browser used (no warning for the right address: tests/test_venue.py, the rule's own test).
"""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import Page, expect

from ballots import venue
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, LANDSCAPE, tablet_page
from tests.browser.test_round_flow import Shots
from tests.test_venue import venue_instance, venue_script

pytestmark = pytest.mark.browser

CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def log_in(page: Page, who: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Tên đăng nhập").fill(who)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.get_by_role("heading", name=f"Xin chào, {who}")).to_be_visible()


def test_chromium_trusting_the_venue_authority_gets_a_secure_kiosk_with_the_camera(browser, tmp_path, db_url):
    env, round_id = venue_instance(tmp_path, db_url)  # the venue script's gunicorn on either engine
    with venue_script(env, tmp_path / "venue.log") as (base, _install):
        spki = venue.ensure_certificates(tmp_path / "instance", "127.0.0.1").spki_hash
        trusting = browser.browser_type.launch(executable_path=CHROMIUM, args=[
            *CHROMIUM_ARGS, *CAMERA_ARGS, f"--ignore-certificate-errors-spki-list={spki}"])
        try:
            with tablet_page(trusting, base) as page:
                page.goto(f"/kiosk/{round_id}")
                assert page.evaluate("window.isSecureContext") is True
                assert page.url.startswith("https://127.0.0.1:")
                expect(page.locator("#camera")).to_be_visible()  # the camera offered, and on
                expect(page.locator(".camera-off")).to_be_hidden()

            with tablet_page(trusting, base) as page:
                log_in(page, "teller", env["PASSWORD"])
                page.goto(f"/rounds/{round_id}/venue")
                tablet = page.locator(".venue-item", has_text="Máy tính bảng 127.0.0.1")
                expect(tablet).to_contain_text("đã cài chứng chỉ")
                expect(tablet).to_contain_text("có máy ảnh")
                expect(tablet.locator(".venue-state")).to_have_text("✓ Đã xong")
                expect(page.locator(".venue-item[data-key=address]")).to_contain_text(f"Địa chỉ trong mã QR: {base}")
                # 127.0.0.1 here, as the test states it: on a venue's Wi-Fi a tablet would reach itself, so it is a "to do"
                expect(page.locator(".venue-item[data-key=address] .venue-state")).to_have_text("✗ Cần làm")
                expect(page.locator(".venue-item[data-key=address]")).to_contain_text(
                    "Đây là địa chỉ nội bộ của chính máy tính xách tay")
                expect(page.locator("#venue-clock .venue-state")).to_have_text("✓ Đã xong")
                # the printer test page is still to be read: not ready yet
                expect(page.locator("#venue-summary")).to_contain_text("Chưa sẵn sàng")
                Shots(page, enabled=db_url.startswith("sqlite")).take("venue-checklist")
                page.goto(f"/rounds/{round_id}/ballots")
                expect(page.locator("#qr-address")).to_contain_text(f"Mã QR trên phiếu sẽ chứa địa chỉ {base}.")
        finally:
            trusting.close()


def test_a_tablet_on_plain_http_is_told_what_to_do_and_listed_without_the_certificate(
        browser, live_server, session, world):
    from tests.factories import make_round

    round_id = make_round(session, world, until="open", issue=3).id
    port = live_server.rsplit(":", 1)[1]
    # a name on the venue's network, not the loopback: plain HTTP is no secure context there
    named = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        *CHROMIUM_ARGS, *CAMERA_ARGS, "--host-resolver-rules=MAP venue-laptop.lan 127.0.0.1"])
    try:
        with tablet_page(named, f"http://venue-laptop.lan:{port}") as page:
            page.goto(f"/kiosk/{round_id}")
            assert page.evaluate("window.isSecureContext") is False
            expect(page.locator(".camera-off")).to_have_text(
                "Muốn dùng máy ảnh, máy tính bảng này cần cài chứng chỉ của hội nghị: hãy hỏi Ban tổ chức, hoặc "
                "xem cách cài. Cách cài chứng chỉ")
            expect(page.locator("#camera")).to_be_hidden()
            page.get_by_role("link", name="Cách cài chứng chỉ").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(
                "Cài chứng chỉ của hội nghị trên máy tính bảng này")
    finally:
        named.close()
    with tablet_page(browser, live_server) as page:
        log_in(page, "organizer", world.password)
        page.goto(f"/rounds/{round_id}/venue")
        tablet = page.locator(".venue-item", has_text="Máy tính bảng 127.0.0.1")
        expect(tablet).to_contain_text("chưa cài chứng chỉ")
        expect(tablet.locator(".venue-state")).to_have_text("✗ Cần làm")


def test_the_ballots_page_warns_before_printing_when_the_qr_address_is_a_loopback_or_not_the_browsers(
        browser, live_server, session, world, app):
    from tests.factories import make_round

    round_id = make_round(session, world, convened=10, present=10).id
    with tablet_page(browser, live_server) as page:
        page.set_viewport_size(LANDSCAPE)
        log_in(page, "organizer", world.password)
        # the default: the QR would hold http://127.0.0.1:5000, the laptop itself
        page.goto(f"/rounds/{round_id}/ballots")
        warning = page.locator("#issue #qr-address")
        expect(warning).to_have_attribute("role", "alert")
        expect(warning).to_contain_text("Mã QR trên phiếu sẽ chứa địa chỉ http://127.0.0.1:5000.")
        expect(warning).to_contain_text("Đó là địa chỉ nội bộ của chính máy tính xách tay")
        # an address of the network, but not the one this browser used
        app.config["TRUSTVOTE"] = dataclasses.replace(app.config["TRUSTVOTE"], base_url="http://192.168.1.10:5000")
        page.reload()
        expect(warning).to_contain_text(f"Trình duyệt này kết nối tới máy chủ qua {live_server}: hãy kiểm tra máy "
                                        "tính bảng mở được http://192.168.1.10:5000 trước khi in")
