"""Accounts: password hashing strength, throttled log-in, server-side sessions, roles."""

import datetime as dt

import pytest
from argon2 import PasswordHasher, Type

from ballots import accounts, authority
from ballots.errors import Conflict, InvalidInput, LoginThrottled


def test_passwords_are_hashed_with_argon2id_at_current_strength():
    hasher = accounts.PasswordHasher()  # what production uses, not the quick one the tests patch in
    assert isinstance(accounts._hasher, PasswordHasher)
    assert hasher.type is Type.ID
    assert hasher.memory_cost >= 64 * 1024 and hasher.time_cost >= 2
    assert PasswordHasher().hash("x" * 12).startswith("$argon2id$")


def test_a_short_password_is_refused(session):
    with pytest.raises(InvalidInput):
        accounts.create_account(session, username="ngan", display_name="Ngắn", password="123", actor="test")


def test_a_taken_username_is_refused(session, world):
    with pytest.raises(Conflict):
        accounts.create_account(session, username="Organizer", display_name="x", password="p" * 12, actor="test")


def test_the_right_password_opens_a_session_that_closing_ends(session, world):
    account = accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.1")
    assert account is world.accounts["organizer"]
    token = accounts.open_session(session, account)
    assert accounts.account_for_session(session, token) is account
    accounts.close_session(session, token)
    assert accounts.account_for_session(session, token) is None


def test_a_session_expires(session, world):
    account = world.accounts["organizer"]
    start = dt.datetime(2026, 12, 5, 7, 0, tzinfo=dt.timezone.utc)
    token = accounts.open_session(session, account, now=start)
    assert accounts.account_for_session(session, token, now=start + dt.timedelta(hours=11)) is account
    assert accounts.account_for_session(session, token, now=start + dt.timedelta(hours=13)) is None


def test_a_disabled_account_loses_its_sessions(session, world):
    account = world.accounts["organizer"]
    token = accounts.open_session(session, account)
    accounts.set_active(session, account, False, actor="admin")
    assert accounts.account_for_session(session, token) is None
    assert accounts.authenticate(session, username="organizer", password=world.password, address="a") is None


def test_five_wrong_passwords_lock_the_username_even_for_the_right_one(session, world):
    for _ in range(accounts.MAX_FAILURES_PER_USERNAME):
        assert accounts.authenticate(session, username="organizer", password="sai mật khẩu", address="a") is None
    with pytest.raises(LoginThrottled):
        accounts.authenticate(session, username="organizer", password=world.password, address="b")
    later = accounts.utcnow() + accounts.THROTTLE_WINDOW + dt.timedelta(seconds=1)
    assert accounts.authenticate(session, username="organizer", password=world.password, address="b",
                                 now=later) is not None


def test_one_address_trying_many_usernames_is_locked(session, world):
    for number in range(accounts.MAX_FAILURES_PER_ADDRESS):
        accounts.authenticate(session, username=f"doan{number}", password="x", address="10.9.9.9")
    with pytest.raises(LoginThrottled):
        accounts.authenticate(session, username="organizer", password=world.password, address="10.9.9.9")


def test_an_organizers_grant_covers_the_committees_below_it(world):
    organizer = world.accounts["commune_organizer"]
    assert authority.has_role(organizer, "organizer", world.commune)
    assert not authority.has_role(organizer, "organizer", world.district)
    assert authority.has_role(world.accounts["organizer"], "organizer", world.commune)


def test_a_viewers_grant_covers_exactly_its_committee(world):
    assert authority.has_role(world.accounts["viewer"], "viewer", world.commune)
    assert not authority.has_role(world.accounts["district_viewer"], "viewer", world.commune)


def test_an_administrator_holds_no_role_by_being_one(world):
    admin = world.accounts["admin"]
    assert not any(authority.has_role(admin, role, world.province) for role in ("organizer", "teller", "viewer"))


def test_an_account_linked_to_an_unknown_person_code_is_refused(session):
    with pytest.raises(InvalidInput):
        accounts.create_account(session, username="kp9", display_name="x", password="p" * 12, person_code="KHÔNG",
                                actor="test")
