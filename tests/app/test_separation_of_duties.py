"""Separation of duties, as an administrator or an organizer would try to step past it (issue 13):

- an administrator cannot grant a role to their own account (and so read results), nor disable it;
- an administrator cannot take over a teller during a count: a new password for a teller who sits on a counting
  board between the opening of a round and its seal waits for a second administrator;
- an administrator's unlock of an account's failed log-ins is audited;
- an organizer may rename a person only if they organize every committee the person sits on.
Each refusal is a clear Vietnamese message with a 4xx, and nothing is written.
"""

from __future__ import annotations

from sqlalchemy import func, select

from ballots import accounts
from ballots.models import Account, AuditEntry, Grant, Membership, PasswordReset, Person
from tests.conftest import Browserish, count_rows, fresh
from tests.factories import make_round

SELF_GRANT = ("Quản trị viên không thể tự cấp vai trò cho tài khoản của chính mình: việc này phải do một quản trị "
              "viên khác làm.")
NEW_PASSWORD = "mật-khẩu-mới-2026"


def audit_actions(session) -> list[str]:
    return list(fresh(session).scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def logs_in(app, username: str, password: str) -> bool:
    client = Browserish(app.test_client())
    return client.submit("/login", data={"username": username, "password": password}).status_code == 302


def test_an_administrator_cannot_grant_a_role_to_their_own_account(login_as, session, world):
    admin = world.accounts["admin"]
    client = login_as("admin")
    page = client.get(f"/admin/accounts/{admin.id}").get_data(as_text=True)
    assert SELF_GRANT in page and f'action="/admin/accounts/{admin.id}/grants"' not in page  # no form offered
    before = audit_actions(session)
    # posted all the same, as an attacker would
    response = client.submit(f"/admin/accounts/{world.accounts['viewer'].id}", f"/admin/accounts/{admin.id}/grants",
                             data={"committee_id": world.commune.id, "role": "viewer"})
    assert response.status_code == 403 and SELF_GRANT in response.get_data(as_text=True)
    assert count_rows(session, Grant, Grant.account_id == admin.id) == 0
    assert audit_actions(session) == before
    # the control: the same form for another account is granted
    response = client.submit(f"/admin/accounts/{world.accounts['viewer'].id}",
                             f"/admin/accounts/{world.accounts['viewer'].id}/grants",
                             data={"committee_id": world.district.id, "role": "viewer"})
    assert response.status_code == 303
    assert count_rows(session, Grant, Grant.account_id == world.accounts["viewer"].id) == 2


def test_a_second_administrator_account_can_grant_the_first_but_it_is_audited(login_as, app, session, world):
    accounts.create_account(session, username="admin2", display_name="Quản trị 2", password=NEW_PASSWORD,
                            is_admin=True, actor="test")
    session.commit()
    second = Browserish(app.test_client())
    assert second.submit("/login", data={"username": "admin2", "password": NEW_PASSWORD}).status_code == 302
    admin = world.accounts["admin"]
    response = second.submit(f"/admin/accounts/{admin.id}", f"/admin/accounts/{admin.id}/grants",
                             data={"committee_id": world.commune.id, "role": "viewer"})
    assert response.status_code == 303
    entry = fresh(session).scalars(select(AuditEntry).where(AuditEntry.action == "grant.create")
                                   .order_by(AuditEntry.seq.desc())).first()
    assert entry.actor == "admin2" and entry.subject == f"account:{admin.id}"


def test_a_tellers_password_during_a_count_needs_a_second_administrator(login_as, app, session, world):
    teller = world.accounts["teller"]
    built = make_round(session, world, until="closed", board=("teller",))  # counting: between opening and seal
    accounts.create_account(session, username="admin2", display_name="Quản trị 2", password=NEW_PASSWORD,
                            is_admin=True, actor="test")
    session.commit()
    first = login_as("admin")
    page = first.get(f"/admin/accounts/{teller.id}").get_data(as_text=True)
    assert "là thành viên Ban kiểm phiếu của đợt lấy phiếu đã mở mà chưa niêm phong" in page
    assert built.round.title in page

    response = first.submit(f"/admin/accounts/{teller.id}", f"/admin/accounts/{teller.id}/password",
                            data={"password": "mật-khẩu-của-kẻ-chiếm"}, follow_redirects=True)
    assert response.status_code == 200
    assert "mật khẩu mới chỉ có hiệu lực khi một quản trị viên khác xác nhận" in response.get_data(as_text=True)
    assert not logs_in(app, "teller", "mật-khẩu-của-kẻ-chiếm") and logs_in(app, "teller", world.password)

    # the same administrator cannot confirm their own
    response = first.submit(f"/admin/accounts/{teller.id}", f"/admin/accounts/{teller.id}/password/confirm")
    assert response.status_code == 403
    assert "Mật khẩu mới của teller do chính đồng chí đặt: một quản trị viên khác phải xác nhận." in \
        response.get_data(as_text=True)
    assert not logs_in(app, "teller", "mật-khẩu-của-kẻ-chiếm")

    # a second administrator does
    second = Browserish(app.test_client())
    assert second.submit("/login", data={"username": "admin2", "password": NEW_PASSWORD}).status_code == 302
    assert second.submit(f"/admin/accounts/{teller.id}", f"/admin/accounts/{teller.id}/password/confirm"
                         ).status_code == 303
    assert logs_in(app, "teller", "mật-khẩu-của-kẻ-chiếm") and not logs_in(app, "teller", world.password)
    assert count_rows(session, PasswordReset) == 0
    actions = audit_actions(session)
    assert actions.index("account.password.request") < actions.index("account.password")
    # nothing is waiting any more
    assert second.submit(f"/admin/accounts/{teller.id}", f"/admin/accounts/{teller.id}/password/confirm"
                         ).status_code == 404


def test_a_tellers_password_after_the_seal_is_set_at_once(login_as, app, session, world, instance):
    from app.settings import SIGNING_KEY_FILE
    from ballots import signing
    from tests.factories import sealed_round

    sealed_round(session, world, signing.load_private_key(instance / SIGNING_KEY_FILE))
    response = login_as("admin").submit(f"/admin/accounts/{world.accounts['teller'].id}",
                                        f"/admin/accounts/{world.accounts['teller'].id}/password",
                                        data={"password": "mật-khẩu-sau-niêm-phong"})
    assert response.status_code == 303
    assert logs_in(app, "teller", "mật-khẩu-sau-niêm-phong")


def test_an_administrators_unlock_is_audited_and_lets_the_owner_in(login_as, app, session, world):
    guesser = Browserish(app.test_client())
    for _ in range(accounts.FREE_PER_SOURCE):
        guesser.submit("/login", data={"username": "viewer", "password": "đoán sai"})
    assert guesser.submit("/login", data={"username": "viewer", "password": world.password}).status_code == 429
    client = login_as("admin")
    viewer = world.accounts["viewer"]
    assert "lần đăng nhập sai trong 15 phút qua" in client.get(f"/admin/accounts/{viewer.id}").get_data(as_text=True)
    assert client.submit(f"/admin/accounts/{viewer.id}", f"/admin/accounts/{viewer.id}/unlock").status_code == 303
    entry = fresh(session).scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.actor, entry.action, entry.subject) == ("admin", "account.unlock", f"account:{viewer.id}")
    assert guesser.submit("/login", data={"username": "viewer", "password": world.password}).status_code == 302


# --- an organizer's reach over a person -------------------------------------------------------------------------

def seat_of(session, committee, name: str) -> Membership:
    return fresh(session).scalar(select(Membership).join(Person).where(Membership.committee_id == committee.id,
                                                                       Person.full_name == name))


def test_an_organizer_cannot_rename_a_person_who_also_sits_outside_their_reach(login_as, session, world):
    """Nguyễn Văn Hùng sits on the commune and on the district: the commune's organizer reaches only the first."""
    seat = seat_of(session, world.commune, "Nguyễn Văn Hùng")
    client = login_as("commune_organizer")
    before = audit_actions(session)
    response = client.submit(f"/seats/{seat.id}/edit", data={"full_name": "Nguyễn Văn Hưng", "post": "Bí thư"})
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert ("Nguyễn Văn Hùng còn là thành viên của Tỉnh ủy Thử Nghiệm / Huyện ủy Đông Anh, ngoài các cấp ủy đồng chí "
            "phụ trách tổ chức") in page
    assert 'value="Nguyễn Văn Hưng"' in page  # what was typed is kept in the form
    assert seat_of(session, world.district, "Nguyễn Văn Hùng") is not None  # the district's roster is unchanged
    assert audit_actions(session) == before
    # the seat's own post is within reach
    assert client.submit(f"/seats/{seat.id}/edit", data={"full_name": "Nguyễn Văn Hùng", "post": "Bí thư Đảng ủy"}
                         ).status_code == 302
    assert seat_of(session, world.commune, "Nguyễn Văn Hùng").post == "Bí thư Đảng ủy"


def test_the_organizer_of_every_seat_renames_the_person(login_as, session, world):
    seat = seat_of(session, world.commune, "Nguyễn Văn Hùng")
    response = login_as("organizer").submit(f"/seats/{seat.id}/edit",
                                            data={"full_name": "Nguyễn Văn Hưng", "post": "Bí thư"})
    assert response.status_code == 302
    assert seat_of(session, world.district, "Nguyễn Văn Hưng") is not None


def test_a_person_who_sits_only_within_reach_is_renamed_by_the_commune_organizer(login_as, session, world):
    seat = seat_of(session, world.commune, "Trần Thị Lan")
    response = login_as("commune_organizer").submit(f"/seats/{seat.id}/edit",
                                                    data={"full_name": "Trần Thị Lan Anh", "post": "Phó Bí thư"})
    assert response.status_code == 302
    assert fresh(session).scalar(select(func.count()).select_from(Person)
                                 .where(Person.full_name == "Trần Thị Lan Anh")) == 1


def test_no_administrator_account_holds_a_role_in_the_world(session, world):
    """The world's administrator starts with no role: the refusals above are what keep it so."""
    admin = fresh(session).scalar(select(Account).where(Account.username == "admin"))
    assert admin.is_admin and not admin.grants
