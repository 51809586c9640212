"""Accounts, role grants, log-in sessions and throttling. Takes a Session, flushes, never commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from . import audit
from .formats import as_utc
from .errors import N_, Conflict, InvalidInput, LoginThrottled, NotFound
from .models import ROLES, Account, Committee, Grant, LoginFailure, LoginSession, Person, utcnow

# argon2id with the library's current defaults (RFC 9106 low-memory profile: t=3, m=64 MiB, p=4)
_hasher = PasswordHasher()
# a real hash to verify against when the username is unknown, so timing does not tell which usernames exist
_DUMMY_HASH = _hasher.hash("not a password")

MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 30
THROTTLE_WINDOW = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
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


def set_password(session: Session, account: Account, password: str, *, actor: str) -> None:
    account.password_hash = hash_password(password)
    # a new password ends every open session of the account
    session.execute(delete(LoginSession).where(LoginSession.account_id == account.id))
    audit.record(session, actor=actor, action="account.password", subject=f"account:{account.id}")


def set_active(session: Session, account: Account, active: bool, *, actor: str) -> None:
    account.is_active_account = active
    if not active:
        session.execute(delete(LoginSession).where(LoginSession.account_id == account.id))
    audit.record(session, actor=actor, action="account.active", subject=f"account:{account.id}",
                 details={"active": active})


def authenticate(
    session: Session, *, username: str, password: str, address: str, now: dt.datetime | None = None
) -> Account | None:
    """The account if the password is right, else None (the failure is recorded). Raises LoginThrottled.

    Throttled per username (guessing one account's password) and per address (trying many accounts), checked
    before the password so that a throttled guess learns nothing. The caller commits either way.
    """
    now = now or utcnow()
    username = username.strip().lower()[:60]
    since = now - THROTTLE_WINDOW
    by_name = session.scalar(
        select(func.count()).where(LoginFailure.username == username, LoginFailure.at > since)
    )
    by_address = session.scalar(
        select(func.count()).where(LoginFailure.address == address, LoginFailure.at > since)
    )
    if by_name >= MAX_FAILURES_PER_USERNAME or by_address >= MAX_FAILURES_PER_ADDRESS:
        raise LoginThrottled(minutes=int(THROTTLE_WINDOW.total_seconds() // 60))
    account = session.scalar(select(Account).where(Account.username == username))
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
        good = account is not None and account.is_active_account
    except (VerificationError, InvalidHashError):
        good = False
    if not good:
        session.add(LoginFailure(username=username, address=address[:64], at=now))
        session.flush()
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return account


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
    """Grant a role on a committee. Raises InvalidInput for an unknown role, Conflict if already granted."""
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
