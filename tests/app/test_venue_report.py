"""A kiosk page's report to the venue checklist (/venue/report): each page load of a tablet reports, the same
report again from the same address (a reload, the next voter's page) is answered 204 on either engine.
SQLite gives a stored time back without its zone: the second report once compared it with an aware "now" (500)."""

from __future__ import annotations

from sqlalchemy import select

from ballots.models import VenueTablet


def reports(session):
    session.rollback()  # a new snapshot: the app committed on its own connection
    session.expire_all()
    return [(row.address, row.secure, row.camera) for row in session.scalars(select(VenueTablet))]


def test_a_tablet_reports_again_and_again_and_a_change_is_kept(client, session):
    for _ in range(3):  # a page load, a reload, the next voter's page: the same report
        response = client.post("/venue/report", json={"secure": False, "camera": True})
        assert response.status_code == 204, response.get_data(as_text=True)[:300]
    assert reports(session) == [("127.0.0.1", False, True)]
    assert client.post("/venue/report", json={"secure": True, "camera": True}).status_code == 204
    assert reports(session) == [("127.0.0.1", True, True)]


def test_a_report_that_is_not_the_two_flags_is_refused_in_vietnamese(client, session):
    for body in ({"secure": "yes", "camera": True}, {"camera": True}, ["secure"]):
        response = client.post("/venue/report", json=body)
        assert response.status_code == 400
        assert "không" in response.get_data(as_text=True).lower() or "Gửi" in response.get_data(as_text=True)
    assert reports(session) == []
