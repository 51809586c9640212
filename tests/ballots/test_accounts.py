"""Accounts: password hashing strength, throttled log-in, server-side sessions, roles."""

import contextlib
import datetime as dt

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select

from ballots import accounts, authority
from ballots.errors import (
    Conflict,
    InvalidInput,
    LoginThrottled,
    NoPasswordWaiting,
    SecondAdministrator,
    SelfDisable,
    SelfGrant,
)
from ballots.models import AuditEntry, LoginFailure


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


T0 = dt.datetime(2026, 12, 5, 8, 0, tzinfo=dt.timezone.utc)


def later(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def wrong(session, username="organizer", address="10.0.0.66", at=T0, **kwargs):
    return accounts.authenticate(session, username=username, password="sai mật khẩu", address=address, now=at,
                                 **kwargs)


def test_five_wrong_passwords_slow_their_source_with_growing_delays_up_to_a_bound(session, world):
    for _ in range(accounts.FREE_PER_SOURCE):
        assert wrong(session) is None
    with pytest.raises(LoginThrottled) as waited:
        accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.66", now=T0)
    assert waited.value.retry_after == 2  # FIRST_DELAY after the last failure
    assert wrong(session, at=later(2)) is None  # checked once the delay has passed: 6 failures now
    with pytest.raises(LoginThrottled) as waited:
        wrong(session, at=later(3))
    assert waited.value.retry_after == 3  # 4 s after the last failure, 1 s of it gone
    assert [accounts.delay_after(n, 5) for n in (5, 6, 7, 10, 20)] == [2, 4, 8, 64, accounts.MAX_DELAY]
    # the owner, from the same address after the delay, gets in
    assert accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.66",
                                 now=later(6)) is world.accounts["organizer"]


def test_an_attacker_elsewhere_does_not_slow_the_owner(session, world):
    for step in range(20):
        with contextlib.suppress(LoginThrottled):
            wrong(session, at=later(step * 600 / 20))
    assert accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.5",
                                 now=later(600)) is world.accounts["organizer"]


def test_a_browser_that_logged_in_before_is_not_slowed_by_its_address(session, world):
    """Behind the same router as the attacker, the owner's device cookie is a source of its own."""
    owner = world.accounts["organizer"]
    for step in range(40):
        with contextlib.suppress(LoginThrottled):
            wrong(session, username=f"user{step}" if step % 2 else "organizer", at=later(step))
    with pytest.raises(LoginThrottled):  # the address is slowed, for the username and for the address
        accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.66",
                              now=later(40))
    assert accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.66",
                                 device_claim=(owner.id, "owners-phone"), now=later(40)) is owner
    # a device cookie of another account is no claim on this one
    with pytest.raises(LoginThrottled):
        accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.66",
                              device_claim=(world.accounts["viewer"].id, "viewers-phone"), now=later(40))


def test_one_address_trying_many_usernames_is_slowed(session, world):
    for number in range(accounts.FREE_PER_ADDRESS):
        wrong(session, username=f"doan{number}", address="10.9.9.9")
    with pytest.raises(LoginThrottled):
        accounts.authenticate(session, username="organizer", password=world.password, address="10.9.9.9", now=T0)
    assert accounts.authenticate(session, username="organizer", password=world.password, address="10.9.9.8",
                                 now=T0) is not None


def test_a_username_guessed_from_many_addresses_lets_each_new_address_one_attempt(session, world):
    for number in range(accounts.UNDER_ATTACK + 1):
        wrong(session, address=f"10.1.{number // 250}.{number % 250}")
    assert wrong(session, address="10.2.0.1") is None  # one attempt checked...
    with pytest.raises(LoginThrottled):
        wrong(session, address="10.2.0.1")  # ...then the delays start
    assert accounts.authenticate(session, username="organizer", password=world.password, address="10.2.0.2",
                                 now=T0) is not None  # the owner, from an address of their own, gets in at once


def test_the_attempt_is_recorded_before_its_password_is_checked(session, world):
    attempt = accounts.begin_login(session, username="Organizer ", address="10.0.0.1", now=T0)
    recorded = session.get(LoginFailure, attempt.failure_id)
    assert recorded.username == "organizer" and recorded.address == "10.0.0.1"
    assert accounts.finish_login(session, attempt, accounts.check_password(attempt, world.password)) is not None
    assert session.get(LoginFailure, attempt.failure_id) is None  # the right password: forgotten
    attempt = accounts.begin_login(session, username="nobody", address="10.0.0.1", now=T0)
    assert not accounts.check_password(attempt, "anything").good and attempt.account_id is None


def test_a_disabled_account_fails_with_its_right_password(session, world):
    accounts.set_active(session, world.accounts["viewer"], False, actor="admin")
    assert accounts.authenticate(session, username="viewer", password=world.password, address="a", now=T0) is None


def test_failures_older_than_the_window_no_longer_count(session, world):
    for _ in range(accounts.FREE_PER_SOURCE + 3):
        with contextlib.suppress(LoginThrottled):
            wrong(session)
    after = accounts.THROTTLE_WINDOW.total_seconds() + 1
    assert accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.66",
                                 now=later(after)) is not None


def test_an_administrators_unlock_forgets_the_failures_and_is_audited(session, world):
    for _ in range(accounts.FREE_PER_SOURCE):
        wrong(session)
    assert accounts.recent_failures(session, world.accounts["organizer"], now=T0) == (accounts.FREE_PER_SOURCE, 1)
    assert accounts.unlock(session, world.accounts["organizer"], actor="admin") == accounts.FREE_PER_SOURCE
    assert accounts.authenticate(session, username="organizer", password=world.password, address="10.0.0.66",
                                 now=T0) is not None
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert (entry.actor, entry.action, entry.subject) == ("admin", "account.unlock",
                                                          f"account:{world.accounts['organizer'].id}")


# --- separation of duties -------------------------------------------------------------------------------------

def test_an_administrator_cannot_grant_a_role_to_their_own_account(session, world):
    admin = world.accounts["admin"]
    with pytest.raises(SelfGrant):
        accounts.grant_role(session, account=admin, committee=world.commune, role="viewer", actor=admin.username)
    assert not admin.grants
    accounts.grant_role(session, account=world.accounts["viewer"], committee=world.district, role="viewer",
                        actor=admin.username)  # another account: the administrator's job


def test_an_administrator_cannot_disable_their_own_account(session, world):
    with pytest.raises(SelfDisable):
        accounts.set_active(session, world.accounts["admin"], False, actor="admin")


def test_a_tellers_new_password_during_a_count_waits_for_a_second_administrator(session, world):
    from tests.factories import make_round

    teller = world.accounts["teller"]
    old_hash = teller.password_hash
    make_round(session, world, until="closed", board=("teller",))
    second = accounts.create_account(session, username="admin2", display_name="Quản trị 2", password="p" * 12,
                                     is_admin=True, actor="test")
    assert accounts.set_password(session, teller, "mật khẩu mới 2026", actor="admin") is False
    assert teller.password_hash == old_hash and accounts.waiting_password(session, teller) is not None
    with pytest.raises(SecondAdministrator):
        accounts.confirm_password(session, teller, actor="admin")
    accounts.confirm_password(session, teller, actor=second.username)
    assert teller.password_hash != old_hash and accounts.waiting_password(session, teller) is None
    with pytest.raises(NoPasswordWaiting):
        accounts.confirm_password(session, teller, actor=second.username)


def test_a_tellers_password_outside_a_count_is_set_at_once(session, world):
    from tests.factories import make_round

    teller = world.accounts["teller"]
    make_round(session, world, until="issued", board=("teller",))  # not yet open: the board is not at work
    assert accounts.set_password(session, teller, "mật khẩu mới 2026", actor="admin") is True
    assert accounts.waiting_password(session, teller) is None


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
