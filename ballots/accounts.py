"""Accounts, role grants, log-in sessions and the slowing down of password guessing. Takes a Session, flushes,
never commits.

Log-in attempts are slowed down, never refused for good, so that nobody can lock an owner out of their account:

- each attempt is recorded as a failure *before* its password is checked (`begin_login`, under a lock on the
  username and the address: ballots.locks), and the record is deleted again if the password was right
  (`finish_login`); so however many attempts arrive at once, no more are checked than the limits below allow;
- the attempts of one username from one source count together: FREE_PER_SOURCE are checked at once, then each
  waits FIRST_DELAY after the last, doubling with each further failure, at most MAX_DELAY. The source is the
  browser's device cookie when the account logged in from it before (app.auth), else the address: an attacker
  elsewhere, or behind the same router without the owner's cookie, does not slow the owner down;
- every username tried from one address without such a cookie counts for that address: FREE_PER_ADDRESS, then
  the same growing delays (one address trying many accounts);
- a username that failed more than UNDER_ATTACK times in the window from addresses without its cookie (guesses
  spread over many addresses) lets each new such source only one attempt before the delays start;
- failures older than THROTTLE_WINDOW no longer count, and an administrator can clear an account's (`unlock`,
  audited).

Separation of duties: an administrator cannot grant a role to their own account (`grant_role`), nor disable it;
a new password for a teller who sits on a counting board between the opening of a round and its seal waits for a
second administrator's confirmation (`set_password`, `confirm_password`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, delete, func, select
from sqlalchemy.orm import Session

from . import audit, authority, locks
from .formats import as_utc
from .errors import (
    N_,
    Conflict,
    InvalidInput,
    LoginThrottled,
    NoPasswordWaiting,
    NotFound,
    SecondAdministrator,
    SelfDisable,
    SelfGrant,
)
from .models import (
    ROLES,
    Account,
    Committee,
    Grant,
    LoginFailure,
    LoginSession,
    PasswordReset,
    Person,
    utcnow,
)

# argon2id with the library's current defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4)
_hasher = PasswordHasher()
# a real hash to verify against when the username is unknown, so timing does not tell which usernames exist
_DUMMY_HASH = _hasher.hash("not a password")

THROTTLE_WINDOW = dt.timedelta(minutes=15)
FREE_PER_SOURCE = 5  # attempts of one username from one source checked at once
FREE_PER_ADDRESS = 30  # attempts of any usernames from one address (without a device cookie) checked at once
UNDER_ATTACK = 50  # failures of one username from sources without its cookie: then each new source has one
FIRST_DELAY = 2  # seconds after the last failure, doubling with each further one
MAX_DELAY = 300  # seconds: the longest anyone waits for their next attempt
SESSION_LIFETIME = dt.timedelta(hours=12)
PASSWORD_CONFIRMATION = dt.timedelta(hours=1)  # a new password waiting for a second administrator, then void
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(N_("A password needs at least %(count)s characters."), count=MIN_PASSWORD_LENGTH)
    return _hasher.hash(password)


def create_account(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    is_admin: bool = False,
    person_code: str | None = None,
    actor: str,
) -> Account:
    """Create an account, linked to the person with `person_code` if given (so that the account of a candidate
    cannot sit on that round's board). Raises InvalidInput (bad username, password or code), Conflict (taken)."""
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(N_("A username may contain only letters, digits, dots, dashes and underscores."))
    if session.scalar(select(Account.id).where(Account.username == username)) is not None:
        raise Conflict(N_("The username %(username)s is already taken."), username=username)
    person_id = None
    if person_code and person_code.strip():
        person_id = session.scalar(select(Person.id).where(Person.code == person_code.strip()))
        if person_id is None:
            raise InvalidInput(N_("No person has the code %(code)s."), code=person_code.strip())
    account = Account(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=hash_password(password),
        is_admin=is_admin,
        person_id=person_id,
    )
    session.add(account)
    session.flush()
    audit.record(session, actor=actor, action="account.create", subject=f"account:{account.id}",
                 details={"username": username, "is_admin": is_admin})
    return account


def _apply_password(session: Session, account: Account, password_hash: str) -> None:
    account.password_hash = password_hash
    # a new password ends every open session of the account
    session.execute(delete(LoginSession).where(LoginSession.account_id == account.id))


def set_password(session: Session, account: Account, password: str, *, actor: str) -> bool:
    """Give the account a new password (its open sessions end): True. For a teller who sits on a counting board
    between the opening of a round and its seal, the password waits instead for another administrator to confirm
    it (`confirm_password`): False. Audited either way. Raises InvalidInput for a short password. Flushes."""
    password_hash = hash_password(password)
    at_work = authority.boards_at_work(session, account)
    if at_work:
        # whoever sets a teller's password could approve the count in their place: two administrators must agree
        session.execute(delete(PasswordReset).where(PasswordReset.account_id == account.id))
        session.add(PasswordReset(account_id=account.id, password_hash=password_hash, requested_by=actor))
        audit.record(session, actor=actor, action="account.password.request", subject=f"account:{account.id}",
                     details={"rounds": [round_.id for round_ in at_work]})
        session.flush()
        return False
    _apply_password(session, account, password_hash)
    session.execute(delete(PasswordReset).where(PasswordReset.account_id == account.id))
    audit.record(session, actor=actor, action="account.password", subject=f"account:{account.id}")
    session.flush()
    return True


def waiting_password(session: Session, account: Account, *, now: dt.datetime | None = None) -> PasswordReset | None:
    """The new password waiting for a second administrator, if one is and it is not older than
    PASSWORD_CONFIRMATION."""
    waiting = session.get(PasswordReset, account.id)
    if waiting is None or as_utc(waiting.requested_at) + PASSWORD_CONFIRMATION < (now or utcnow()):
        return None
    return waiting


def confirm_password(session: Session, account: Account, *, actor: str, now: dt.datetime | None = None) -> None:
    """A second administrator confirms the new password another set for a teller at work: it takes effect (the
    account's sessions end). Raises NoPasswordWaiting, SecondAdministrator (the one who set it). Flushes."""
    waiting = waiting_password(session, account, now=now)
    if waiting is None:
        raise NoPasswordWaiting()
    if waiting.requested_by == actor:
        raise SecondAdministrator(username=account.username)
    _apply_password(session, account, waiting.password_hash)
    audit.record(session, actor=actor, action="account.password", subject=f"account:{account.id}",
                 details={"set_by": waiting.requested_by, "confirmed_by": actor})
    session.delete(waiting)
    session.flush()


def cancel_password(session: Session, account: Account, *, actor: str) -> None:
    """Drop a new password waiting for confirmation. Raises NoPasswordWaiting. Flushes."""
    waiting = session.get(PasswordReset, account.id)
    if waiting is None:
        raise NoPasswordWaiting()
    audit.record(session, actor=actor, action="account.password.cancel", subject=f"account:{account.id}",
                 details={"set_by": waiting.requested_by})
    session.delete(waiting)
    session.flush()


def set_active(session: Session, account: Account, active: bool, *, actor: str) -> None:
    """Enable or disable an account (disabling ends its sessions). Raises SelfDisable for one's own account."""
    if not active and account.username == actor:
        raise SelfDisable()
    account.is_active_account = active
    if not active:
        session.execute(delete(LoginSession).where(LoginSession.account_id == account.id))
    audit.record(session, actor=actor, action="account.active", subject=f"account:{account.id}",
                 details={"active": active})


def delay_after(failures: int, free: int) -> int:
    """Seconds the next attempt waits after the last failure, with `failures` so far and `free` allowed at once."""
    if failures < free:
        return 0
    return min(FIRST_DELAY * 2 ** min(failures - free, 16), MAX_DELAY)


@dataclass(frozen=True)
class LoginAttempt:
    """An attempt recorded as a failure before its password is checked (`failure_id`), with what the check needs:
    the account's hash (None for an unknown or disabled account: the dummy hash is checked, for equal timing)."""

    failure_id: int
    username: str
    address: str
    device: str | None
    account_id: int | None
    password_hash: str | None


@dataclass(frozen=True)
class Checked:
    """What checking a password found, and the password's new hash when the stored one needs renewing."""

    good: bool
    new_hash: str | None = None


def _failures(session: Session, since: dt.datetime, *conditions) -> tuple[int, dt.datetime | None]:
    count, last = session.execute(select(func.count(), func.max(LoginFailure.at))
                                  .where(LoginFailure.at > since, *conditions)).one()
    return count, as_utc(last) if last is not None else None


def _wait(count: int, last: dt.datetime | None, free: int, now: dt.datetime) -> float:
    if last is None:
        return 0.0
    return (last + dt.timedelta(seconds=delay_after(count, free)) - now).total_seconds()


def _source(username: str, address: str, device: str | None):
    """The failures of one username from one source: its device cookie, else its address (without a cookie)."""
    if device is not None:
        return and_(LoginFailure.username == username, LoginFailure.device == device)
    return and_(LoginFailure.username == username, LoginFailure.address == address, LoginFailure.device.is_(None))


def begin_login(session: Session, *, username: str, address: str, device_claim: tuple[int, str] | None = None,
                now: dt.datetime | None = None) -> LoginAttempt:
    """Record an attempt as a failure before its password is checked, if its source, its address and the
    username's state allow one now; else raise LoginThrottled with the seconds to wait (nothing recorded).

    `device_claim` is (account id, device id) from the browser's device cookie: it makes the attempt's source the
    device when it names this username's account. Locks the username and the address for the rest of the
    transaction (ballots.locks): the caller commits at once, before checking the password, so that a burst of
    attempts is counted one by one. Flushes."""
    now = now or utcnow()
    username, address = username.strip().lower()[:60], address[:64]
    locks.hold(session, f"login-user:{username}", f"login-address:{address}")
    account = session.scalar(select(Account).where(Account.username == username))
    device = device_claim[1][:32] if device_claim and account is not None and device_claim[0] == account.id else None
    since = now - THROTTLE_WINDOW
    free = FREE_PER_SOURCE
    if device is None:
        spread, _last = _failures(session, since, LoginFailure.username == username, LoginFailure.device.is_(None))
        if spread > UNDER_ATTACK:
            free = 1
    wait = _wait(*_failures(session, since, _source(username, address, device)), free, now)
    if device is None:
        by_address = _failures(session, since, LoginFailure.address == address, LoginFailure.device.is_(None))
        wait = max(wait, _wait(*by_address, FREE_PER_ADDRESS, now))
    if wait > 0:
        raise LoginThrottled(seconds=math.ceil(wait))
    session.execute(delete(LoginFailure).where(LoginFailure.at < since))
    failure = LoginFailure(username=username, address=address, device=device, at=now)
    session.add(failure)
    session.flush()
    usable = account is not None and account.is_active_account
    return LoginAttempt(failure.id, username, address, device, account.id if usable else None,
                        account.password_hash if usable else None)


def check_password(attempt: LoginAttempt, password: str) -> Checked:
    """Whether the password is the account's (argon2id: 64 MiB and about a tenth of a second of a core; the caller
    bounds how many run at once). An unknown or disabled account is checked against a dummy hash, and fails."""
    try:
        _hasher.verify(attempt.password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return Checked(False)
    if attempt.password_hash is None:
        return Checked(False)
    return Checked(True, _hasher.hash(password) if _hasher.check_needs_rehash(attempt.password_hash) else None)


def finish_login(session: Session, attempt: LoginAttempt, checked: Checked) -> Account | None:
    """The account if the password was right: the attempt's failure and the earlier ones of its source are
    forgotten (not those of other sources). Else None: the failure stays recorded. Flushes."""
    if not checked.good:
        return None
    account = session.get(Account, attempt.account_id)
    if account is None or not account.is_active_account:
        return None
    if checked.new_hash:
        account.password_hash = checked.new_hash
    session.execute(delete(LoginFailure).where(
        (LoginFailure.id == attempt.failure_id) | _source(attempt.username, attempt.address, attempt.device)))
    session.flush()
    return account


def abandon_login(session: Session, attempt: LoginAttempt) -> None:
    """Forget an attempt whose password was never checked (the server was too busy). Flushes."""
    session.execute(delete(LoginFailure).where(LoginFailure.id == attempt.failure_id))
    session.flush()


def authenticate(
    session: Session, *, username: str, password: str, address: str, device_claim: tuple[int, str] | None = None,
    now: dt.datetime | None = None,
) -> Account | None:
    """begin_login, check_password and finish_login in one transaction: the account if the password is right,
    else None (the failure is recorded). Raises LoginThrottled. The app commits between the first two instead
    (app.auth), so that concurrent attempts see each other."""
    attempt = begin_login(session, username=username, address=address, device_claim=device_claim, now=now)
    return finish_login(session, attempt, check_password(attempt, password))


def recent_failures(session: Session, account: Account, *, now: dt.datetime | None = None) -> tuple[int, int]:
    """How many log-in attempts of this account failed within the window, and from how many addresses."""
    since = (now or utcnow()) - THROTTLE_WINDOW
    count, addresses = session.execute(select(func.count(), func.count(LoginFailure.address.distinct()))
                                       .where(LoginFailure.username == account.username,
                                              LoginFailure.at > since)).one()
    return count, addresses


def unlock(session: Session, account: Account, *, actor: str) -> int:
    """Forget the account's failed log-in attempts, so that nobody waits to try its password (the attacker's
    address too: its own failures with other usernames still count). Returns how many; audited. Flushes."""
    forgotten = session.execute(delete(LoginFailure).where(LoginFailure.username == account.username)).rowcount
    audit.record(session, actor=actor, action="account.unlock", subject=f"account:{account.id}",
                 details={"failures": forgotten})
    session.flush()
    return forgotten


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def open_session(session: Session, account: Account, *, now: dt.datetime | None = None) -> str:
    """Start a server-side log-in session and return its token (kept only in the signed cookie)."""
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_token_hash(token), account_id=account.id, created_at=now or utcnow()))
    audit.record(session, actor=account.username, action="login", subject=f"account:{account.id}")
    session.flush()
    return token


def account_for_session(session: Session, token: str, *, now: dt.datetime | None = None) -> Account | None:
    """The account of a live session token, or None if it was closed, expired or the account disabled."""
    row = session.get(LoginSession, _token_hash(token))
    if row is None:
        return None
    created = as_utc(row.created_at)
    if created + SESSION_LIFETIME < (now or utcnow()) or not row.account.is_active_account:
        return None
    return row.account


def close_session(session: Session, token: str) -> None:
    row = session.get(LoginSession, _token_hash(token))
    if row is not None:
        audit.record(session, actor=row.account.username, action="logout", subject=f"account:{row.account_id}")
        session.delete(row)
        session.flush()


def grant_role(session: Session, *, account: Account, committee: Committee, role: str, actor: str) -> Grant:
    """Grant a role on a committee. Raises SelfGrant when `actor` is the account itself (an administrator holds no
    role by being one, and cannot give themselves one), InvalidInput for an unknown role, Conflict if already
    granted."""
    if account.username == actor:
        raise SelfGrant()
    if role not in ROLES:
        raise InvalidInput(N_("Unknown role: %(value)s."), value=role)
    exists = session.scalar(
        select(Grant.id).where(Grant.account_id == account.id, Grant.committee_id == committee.id, Grant.role == role)
    )
    if exists is not None:
        raise Conflict(N_("This role is already granted."))
    grant = Grant(account=account, committee=committee, role=role)
    session.add(grant)
    session.flush()
    audit.record(session, actor=actor, action="grant.create", subject=f"account:{account.id}",
                 details={"committee": committee.id, "role": role})
    return grant


def revoke_grant(session: Session, *, grant_id: int, actor: str) -> None:
    grant = session.get(Grant, grant_id)
    if grant is None:
        raise NotFound(N_("No such grant."))
    audit.record(session, actor=actor, action="grant.revoke", subject=f"account:{grant.account_id}",
                 details={"committee": grant.committee_id, "role": grant.role})
    session.delete(grant)
    session.flush()
