"""A database outage is answered 503 with Retry-After, never a 500 and never a false acknowledgement, and the tablet's
retry with the same submission id is recorded once (issue 13). Every answer that does not say otherwise is not
cached (the live turnout's JSON included).

The outage is real for each engine's driver: the app's sessions are bound to a database that cannot be opened
(SQLite: a file in a folder that does not exist; PostgreSQL: a port nobody listens on), then bound back.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.kiosk.group_commit import GroupCommit
from ballots.db import make_engine, make_sessionmaker
from ballots.models import SealedBallot
from tests.conftest import fresh
from tests.factories import make_round

UNAVAILABLE = ("Máy chủ tạm thời không kết nối được cơ sở dữ liệu. Hãy thử lại sau vài giây: phiếu gửi lại chỉ được "
               "tính một lần.")
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


@pytest.fixture
def outage(app, db_url, tmp_path):
    """Call to cut the app off its database, and again with False to give it back."""
    kept = app.extensions["trustvote.sessionmaker"], app.extensions["trustvote.group_commit"]
    url = (f"sqlite:///{tmp_path}/no-such-folder/trustvote.db" if db_url.startswith("sqlite")
           else "postgresql://postgres@127.0.0.1:9/trustvote")  # the discard port: nothing listens there
    broken = make_engine(url, **({"connect_args": {"connect_timeout": 2}} if "postgresql" in url else {}))

    def cut(down: bool = True) -> None:
        if down:
            sessions = make_sessionmaker(broken)
            app.extensions["trustvote.sessionmaker"] = sessions
            app.extensions["trustvote.group_commit"] = GroupCommit(sessions)
        else:
            app.extensions["trustvote.sessionmaker"], app.extensions["trustvote.group_commit"] = kept

    yield cut
    cut(False)
    broken.dispose()


@pytest.fixture
def voting(session, world):
    return make_round(session, world, until="open", issue=3)


def cast_body(voting, code, submission="retry-submission-0001"):
    return {"code": code, "marks": "1" * len(voting.round.candidates), "submission": submission, "round": voting.id}


def sealed_ballots(session) -> int:
    return fresh(session).scalar(select(func.count()).select_from(SealedBallot))


def test_a_cast_during_an_outage_is_a_503_and_its_retry_is_recorded_once(client, session, voting, outage):
    body = cast_body(voting, voting.codes[0])
    outage()
    response = client.post("/api/v1/ballots", json=body)
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    assert response.get_json() == {"error": "DatabaseUnavailable", "message": UNAVAILABLE}
    assert response.headers["Cache-Control"] == "no-store"
    opened = client.post("/api/v1/ballots/open", json={"code": voting.codes[1]})
    assert opened.status_code == 503 and opened.get_json()["error"] == "DatabaseUnavailable"
    outage(False)
    assert sealed_ballots(session) == 0
    assert client.post("/api/v1/ballots", json=body).status_code == 201  # the kiosk's retry, same submission id
    again = client.post("/api/v1/ballots", json=body)
    assert again.status_code == 200 and again.get_json()["status"] == "already_recorded"
    assert sealed_ballots(session) == 1


def test_without_javascript_the_voter_can_send_the_same_form_again(client, session, voting, outage):
    form = {"code": voting.codes[0], "submission": "form-submission-000001", "count": str(len(voting.round.candidates)),
            **{f"mark-{i}": "2" for i in range(len(voting.round.candidates))}}
    outage()
    response = client.post(f"/kiosk/{voting.id}/cast", data=form)
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"
    page = response.get_data(as_text=True)
    assert UNAVAILABLE in page and "Gửi lại" in page
    resend = dict(HIDDEN.findall(page))
    assert resend == form  # the very same form, submission id included
    outage(False)
    recorded = client.post(f"/kiosk/{voting.id}/cast", data=resend)
    assert recorded.status_code == 200 and "Phiếu của đồng chí đã được ghi nhận" in recorded.get_data(as_text=True)
    assert sealed_ballots(session) == 1


@pytest.mark.parametrize("path", ["/b", "/api/v1/openapi.json"])
def test_pages_during_an_outage_are_503_not_500(client, voting, outage, path):
    outage()
    response = client.get(path if path != "/b" else f"/kiosk/{voting.id}")
    if path == "/api/v1/openapi.json":  # needs no database
        assert response.status_code == 200
    else:
        assert response.status_code == 503 and UNAVAILABLE in response.get_data(as_text=True)


def test_a_login_during_an_outage_is_503(client, world, outage):
    page = client.get("/login")
    outage()
    from tests.conftest import csrf_from

    response = client.post("/login", data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                           "username": "organizer", "password": world.password})
    assert response.status_code == 503 and response.headers["Retry-After"] == "3"


def test_the_live_turnout_is_never_cached(login_as, voting):
    response = login_as("organizer").get(f"/rounds/{voting.id}/turnout.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


def test_static_files_may_still_be_revalidated_by_a_cache(client):
    with client.get("/static/css/app.css") as response:
        assert "no-store" not in response.headers.get("Cache-Control", "")
