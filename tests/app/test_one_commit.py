"""One transaction per request: what a view wrote is committed when it returns, and nothing of it when it raises
(a refusal, an abort): no error page leaves half a change, nor the audit entry of a reading it then refused."""

from sqlalchemy import select

from ballots import accounts, signing
from ballots.models import AuditEntry, LoginFailure
from app.settings import SIGNING_KEY_FILE
from tests.conftest import Browserish, count_rows, fresh
from tests.factories import sealed_round


def _a_rated_person_reading_own_rows(login_as, session, world, instance):
    """A published result whose audience is the rated people, and a client logged in as one of them."""
    round_ = sealed_round(session, world, signing.load_private_key(instance / SIGNING_KEY_FILE),
                          audience=["candidate"], publish=True)
    accounts.create_account(session, username="hung", display_name="Nguyễn Văn Hùng", password=world.password,
                            person_code="CB-001", actor="test")
    session.commit()
    return round_, login_as("hung")


def test_a_download_refused_after_its_reading_was_audited_leaves_no_audit_entry(login_as, session, world, instance):
    round_, reader = _a_rated_person_reading_own_rows(login_as, session, world, instance)
    # the minutes hold every row: a rated person reads only their own, so the PDF is refused after the reading
    assert reader.get(f"/results/rounds/{round_.id}/pdf").status_code == 403
    assert reader.get(f"/results/rounds/{round_.id}/xlsx").status_code == 200
    actions = fresh(session).scalars(select(AuditEntry.action).where(AuditEntry.actor == "hung")).all()
    assert "result.download.xlsx" in actions and "result.download.pdf" not in actions


def test_a_domain_refusal_keeps_nothing_the_request_wrote(login_as, session, world, instance):
    round_, _reader = _a_rated_person_reading_own_rows(login_as, session, world, instance)
    teller = login_as("teller")
    before = count_rows(fresh(session), AuditEntry)
    # publishing twice: the domain refuses with a 409 and the request writes nothing
    response = teller.submit(f"/count/rounds/{round_.id}", f"/results/rounds/{round_.id}/publish")
    assert response.status_code == 409
    assert count_rows(fresh(session), AuditEntry) == before


def test_a_failed_login_is_answered_and_its_failure_kept_for_the_throttle(app, world, session):
    client = Browserish(app.test_client())
    response = client.submit("/login", data={"username": "viewer", "password": "not the password"})
    assert response.status_code == 401
    assert count_rows(fresh(session), LoginFailure, LoginFailure.username == "viewer") == 1
