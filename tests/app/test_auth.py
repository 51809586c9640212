"""Log-in, log-out, throttling, CSRF, sessions and security headers, through the Flask client."""

import pytest

from ballots import accounts


def test_an_anonymous_visitor_is_shown_the_vietnamese_login_page(client, world):
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'lang="vi"' in page and "Đăng nhập" in page and "Tên đăng nhập" in page and "Mật khẩu" in page


def test_english_is_the_second_language(client, world):
    client.get("/lang/en?next=/login")
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in page and "Log in" in page and "Username" in page


def test_the_language_switch_does_not_redirect_off_site(client, world):
    response = client.get("/lang/en?next=https://example.org/phish")
    assert response.headers["Location"] == "/"
    assert client.get("/lang/xx").status_code == 404


def test_a_wrong_password_is_refused_in_vietnamese(client, world):
    response = client.submit("/login", data={"username": "organizer", "password": "sai rồi"})
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu." in response.get_data(as_text=True)


def test_an_empty_login_form_keeps_the_username_and_says_what_is_missing(client, world):
    response = client.submit("/login", data={"username": "organizer", "password": ""})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Cần nhập ô này." in page and 'value="organizer"' in page


def test_guessing_is_slowed_with_429_and_retry_after(client, world):
    for _ in range(accounts.FREE_PER_SOURCE):
        assert client.submit("/login", data={"username": "organizer", "password": "đoán sai"}).status_code == 401
    response = client.submit("/login", data={"username": "organizer", "password": world.password})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= accounts.FIRST_DELAY
    assert "Đăng nhập sai quá nhiều lần. Hãy thử lại sau" in response.get_data(as_text=True)


def test_a_browser_that_logged_in_before_is_not_slowed_by_guesses_from_its_address(app, client, world):
    from tests.conftest import Browserish

    owner = client
    assert owner.submit("/login", data={"username": "organizer", "password": world.password}).status_code == 302
    device = owner.get_cookie("trustvote_device", path="/login")
    assert device is not None and device.http_only and device.path == "/login"
    owner.submit("/", "/logout")
    attacker = Browserish(app.test_client())  # the same address (127.0.0.1), no cookie of the owner's
    for _ in range(accounts.FREE_PER_SOURCE + 1):
        attacker.submit("/login", data={"username": "organizer", "password": "đoán sai"})
    assert attacker.submit("/login", data={"username": "organizer", "password": world.password}).status_code == 429
    assert owner.submit("/login", data={"username": "organizer", "password": world.password}).status_code == 302


def test_a_forged_device_cookie_is_no_claim(app, client, world):
    for _ in range(accounts.FREE_PER_SOURCE):
        client.submit("/login", data={"username": "organizer", "password": "đoán sai"})
    client.set_cookie("trustvote_device", "WzEsICJ4Il0.forged", path="/login")
    assert client.submit("/login", data={"username": "organizer", "password": world.password}).status_code == 429


def test_a_login_when_the_server_is_busy_hashing_is_a_503_that_counts_nothing(app, client, world, session,
                                                                              monkeypatch):
    from contextlib import contextmanager

    from ballots.errors import ServerBusy
    from ballots.models import LoginFailure
    from tests.conftest import count_rows

    gate = app.extensions["trustvote.gates"]["hashing"]

    @contextmanager
    def busy():
        raise ServerBusy(seconds=5)
        yield

    monkeypatch.setattr(type(gate), "__call__", lambda self: busy())
    response = client.submit("/login", data={"username": "organizer", "password": world.password})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "Máy chủ đang bận" in response.get_data(as_text=True)
    assert count_rows(session, LoginFailure) == 0


def test_a_login_without_the_csrf_token_is_refused(client, world):
    response = client.post("/login", data={"username": "organizer", "password": world.password})
    assert response.status_code == 400
    assert client.get(f"/committees/{world.commune.id}").status_code == 302  # not logged in


def test_a_post_without_csrf_is_refused_even_when_logged_in(login_as, world):
    client = login_as("organizer")
    response = client.post(f"/committees/{world.commune.id}/edit",
                           data={"name": "Đổi tên", "level": "Đảng ủy xã", "parent_id": world.district.id})
    assert response.status_code == 400
    assert "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)


def test_logout_ends_the_session_for_a_copied_cookie_too(app, login_as, world):
    client = login_as("organizer")
    cookie = client.get_cookie("trustvote").value
    assert client.get("/").status_code == 200
    client.submit("/", "/logout")
    thief = app.test_client()
    thief.set_cookie("trustvote", cookie)
    # the copied cookie names a session that no longer exists
    assert thief.get(f"/committees/{world.commune.id}").status_code == 302


def test_logout_needs_a_post(login_as):
    client = login_as("organizer")
    assert client.get("/logout").status_code == 405


def test_a_changed_user_agent_loses_the_session(login_as, world):
    client = login_as("organizer")
    path = f"/committees/{world.commune.id}"
    assert client.get(path, headers={"User-Agent": "another browser"}).status_code == 302


@pytest.mark.parametrize("path", ["/login", "/"])
def test_pages_carry_the_security_headers(login_as, path):
    response = login_as("organizer").get(path, follow_redirects=True)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_no_page_has_an_inline_script_or_style(login_as, world):
    client = login_as("organizer")
    for path in ("/", f"/committees/{world.commune.id}", f"/conferences/{world.conference.id}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and "<style" not in page and " style=" not in page and "onclick" not in page


def test_assets_are_served_by_the_app(client):
    for path in ("/static/css/app.css", "/static/js/app.js"):
        with client.get(path) as response:
            assert response.status_code == 200


def test_the_session_cookie_is_http_only(client, world):
    response = client.submit("/login", data={"username": "organizer", "password": world.password})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_redirects_only_within_the_site(client, world):
    response = client.submit("/login?next=//evil.example/x", "/login?next=//evil.example/x",
                             data={"username": "organizer", "password": world.password})
    assert response.headers["Location"] == "/"


def test_a_login_over_https_without_a_referer_is_not_refused_as_csrf(app, world):
    # browsers send no Referer under Referrer-Policy: no-referrer; behind nginx the app sees https
    from tests.conftest import Browserish

    client = Browserish(app.test_client())
    page = client.get("/login", base_url="https://trustvote.example")
    from tests.conftest import csrf_from

    response = client.post("/login", base_url="https://trustvote.example",
                           data={"csrf_token": csrf_from(page.get_data(as_text=True)), "username": "organizer",
                                 "password": "sai mật khẩu"})
    assert response.status_code == 401
