"""The administrator's screens: accounts and role grants; nobody else may open them."""

import pytest
from sqlalchemy import select

from ballots.models import Account, AuditEntry, Grant


@pytest.mark.parametrize("who", ["organizer", "teller", "viewer"])
def test_only_administrators_open_the_account_pages(login_as, who):
    client = login_as(who)
    assert client.get("/admin/accounts").status_code == 403
    assert client.get("/admin/accounts/new").status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    assert client.get("/admin/accounts").status_code == 302


def test_an_administrator_creates_an_account_and_grants_a_role(login_as, session, world):
    client = login_as("admin")
    response = client.submit("/admin/accounts/new", data={
        "username": "kiemphieu9", "display_name": "Đỗ Thị Kiểm", "password": "mật-khẩu-mới-123", "person_code": ""})
    assert response.status_code == 302
    account = session.scalar(select(Account).where(Account.username == "kiemphieu9"))
    assert account.display_name == "Đỗ Thị Kiểm" and not account.is_admin
    response = client.submit(f"/admin/accounts/{account.id}", f"/admin/accounts/{account.id}/grants",
                             data={"committee_id": world.commune.id, "role": "teller"})
    assert response.status_code == 303
    session.rollback()
    grant = session.scalar(select(Grant).where(Grant.account_id == account.id))
    assert (grant.committee_id, grant.role) == (world.commune.id, "teller")
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq.desc()).limit(2)).all()
    assert actions == ["grant.create", "account.create"]


def test_a_new_account_can_log_in(login_as, app, world):
    from tests.conftest import Browserish

    login_as("admin").submit("/admin/accounts/new", data={
        "username": "nguoimoi", "display_name": "Người Mới", "password": "mật-khẩu-mới-123"})
    fresh = Browserish(app.test_client())
    response = fresh.submit("/login", data={"username": "nguoimoi", "password": "mật-khẩu-mới-123"})
    assert response.status_code == 302
    assert "chưa được cấp vai trò nào" in fresh.get("/").get_data(as_text=True)


@pytest.mark.parametrize("data,message", [
    ({"username": "organizer", "display_name": "x", "password": "mật-khẩu-mới-123"},
     "Tên đăng nhập organizer đã có người dùng."),
    ({"username": "co dau cach", "display_name": "x", "password": "mật-khẩu-mới-123"},
     "Tên đăng nhập chỉ gồm chữ cái"),
    ({"username": "ngan", "display_name": "x", "password": "123"}, "Mật khẩu phải có ít nhất 10 ký tự."),
    ({"username": "lienket", "display_name": "x", "password": "mật-khẩu-mới-123", "person_code": "KHÔNG-CÓ"},
     "Không có người nào mang mã KHÔNG-CÓ."),
])
def test_a_bad_account_is_refused_with_a_message_and_nothing_written(login_as, session, world, data, message):
    client = login_as("admin")
    before = len(session.scalars(select(Account)).all())
    response = client.submit("/admin/accounts/new", data=data)
    assert response.status_code in (400, 409) and message in response.get_data(as_text=True)
    session.rollback()
    assert len(session.scalars(select(Account)).all()) == before


def test_granting_the_same_role_twice_is_refused(login_as, world):
    client = login_as("admin")
    teller = world.accounts["teller"]
    response = client.submit(f"/admin/accounts/{teller.id}", f"/admin/accounts/{teller.id}/grants",
                             data={"committee_id": world.commune.id, "role": "teller"})
    assert response.status_code == 409 and "Vai trò này đã được cấp." in response.get_data(as_text=True)


def test_a_revoked_role_closes_the_door(login_as, session, world):
    organizer = login_as("commune_organizer")
    assert organizer.get(f"/committees/{world.commune.id}").status_code == 200
    account = world.accounts["commune_organizer"]
    grant_id = account.grants[0].id
    login_as("admin").submit(f"/admin/accounts/{account.id}", f"/admin/accounts/{account.id}/grants/{grant_id}/revoke")
    assert organizer.get(f"/committees/{world.commune.id}").status_code == 403


def test_a_new_password_ends_the_accounts_sessions(login_as, world):
    organizer = login_as("organizer")
    account = world.accounts["organizer"]
    response = login_as("admin").submit(f"/admin/accounts/{account.id}", f"/admin/accounts/{account.id}/password",
                                        data={"password": "mật-khẩu-khác-456"})
    assert response.status_code == 303
    assert organizer.get(f"/committees/{world.commune.id}").status_code == 302


def test_disabling_an_account_logs_it_out(login_as, world):
    viewer = login_as("viewer")
    account = world.accounts["viewer"]
    login_as("admin").submit(f"/admin/accounts/{account.id}", f"/admin/accounts/{account.id}/active/off")
    assert viewer.get(f"/committees/{world.commune.id}").status_code == 302


def test_an_administrator_cannot_disable_themselves(login_as, world):
    admin = world.accounts["admin"]
    client = login_as("admin")
    response = client.submit(f"/admin/accounts/{admin.id}", f"/admin/accounts/{admin.id}/active/off")
    assert response.status_code == 409
    assert "Đồng chí không thể tự khóa tài khoản của mình." in response.get_data(as_text=True)


def test_an_unknown_account_is_404(login_as):
    assert login_as("admin").get("/admin/accounts/99999").status_code == 404
