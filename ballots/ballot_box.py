"""A round's ballot box in the database, from issue to count: made with its key cards when ballots are first
issued, filled with sealed ballots by the casts, recorded at the close, opened by the board's key cards, and
checked again at the count and the seal. The cryptography is ballots.box's.

Takes a Session, flushes, never commits. What each step leaves in the database, and why it is enough:
- issue: the public key, how many cards open the box, and each card's commitment (SHA-256 of its bytes). The
  private key and the cards exist only in memory and then on paper (`Made.cards`, printed with the ballots).
- cast: one sealed ballot (ballots.box.seal) in the same transaction as its token's spend: whoever can join the
  two rows (PostgreSQL's xmin, the WAL, page order) learns that this token was cast, which the token's state
  says anyway, and nothing of the marks.
- close: how many sealed ballots there are and their digest, in the box and in the audit log.
- every record of the box (public key, cards needed, close, opening) carries an HMAC under the instance's audit
  key, which is not in the database, and is checked whenever it is read: whoever holds the database can read the
  public key (and so seal a ballot of their own) but cannot swap the key, nor make the close or the opening record
  agree with ballots they added, removed or changed (BoxRecordTampered).
- open (after the close, by `cards_needed` cards): the sealed ballots must be exactly the set the close recorded
  and each must open under the key; then the opened ballots are written in one transaction, in random order,
  with fresh random ids, the sealed rows deleted, and the count and digest of the opened ballots recorded. After
  the commit the dead copies of the sealed rows are scrubbed (PostgreSQL: VACUUM; SQLite: secure_delete, which
  ballots.db turns on, and a checkpoint that truncates the WAL). The key is never stored.
- count and seal: the opened ballots must still be those the opening recorded.
"""

from __future__ import annotations

import datetime as dt
import secrets as random_source
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, event, func, insert, select
from sqlalchemy.orm import Session

from . import audit, box, formats, results
from .authority import require_board
from .errors import (
    BoxAlreadyOpen,
    BoxNotOpen,
    BoxRecordTampered,
    CardOfAnotherRound,
    CardRepeated,
    NotCountingNow,
    NotEnoughCards,
    OpenedBallotChanged,
    OpenedSetChanged,
    SealedBallotTampered,
    SealedSetChanged,
    WrongCard,
)
from .lifecycle import RoundState, TokenState, require_unsealed_state
from .models import Account, Ballot, BallotBox, BoxCard, Round, SealedBallot, Token, utcnow
from .tally import Sheet

RECOVERY = None  # the holder of the recovery card: the direct upper-level committee, not an account


def cards_needed_by_default(board_size: int) -> int:
    """How many cards open the box unless the round says otherwise: a majority of the board."""
    return board_size // 2 + 1


@dataclass(frozen=True)
class IssuedCard:
    """A key card to print: the card and the words for its holder."""

    card: box.Card
    holder: str | None  # the board member's name; None for the recovery card


@dataclass(frozen=True)
class Made:
    public_key: bytes
    cards_needed: int
    cards: list[IssuedCard]


def make_box(session: Session, round_: Round, *, actor: str) -> Made:
    """Make the round's box when its ballots are first issued: a key pair, split into one card for each board
    member and a recovery card for the direct upper-level committee, any `cards_needed` of which open it.
    Returns the cards to print now (never again); the database keeps the public key and their commitments."""
    key = box.new_key()
    board = sorted((seat.account for seat in round_.board), key=lambda a: (a.display_name, a.id))
    needed = cards_needed_by_default(len(board))
    cards = box.split_key(key, round_id=round_.id, needed=needed, cards=len(board) + 1)
    holders = [*board, RECOVERY]
    made = BallotBox(round_id=round_.id, public_key=box.public_bytes(key), cards_needed=needed)
    made.cards = [BoxCard(index=card.index, holder_id=holder.id if holder else None, commitment=card.commitment)
                  for card, holder in zip(cards, holders, strict=True)]
    _authenticate(session, made)
    session.add(made)
    session.flush()
    audit.record(session, actor=actor, action="box.make", subject=f"round:{round_.id}",
                 details={"public_key": made.public_key.hex(), "cards_needed": needed,
                          "holders": [h.display_name if h else "recovery" for h in holders]})
    return Made(made.public_key, needed, [IssuedCard(card, holder.display_name if holder else None)
                                          for card, holder in zip(cards, holders, strict=True)])


def _record_text(found: BallotBox) -> str:
    """What the box's MAC covers: every field the domain relies on."""
    return formats.canonical_json([found.round_id, found.public_key.hex(), found.cards_needed, found.sealed_count,
                                   found.sealed_digest, found.opened_count, found.opened_digest, found.opened_by])


def _authenticate(session: Session, found: BallotBox) -> None:
    found.mac = audit.keyed_mac(session, _record_text(found))


def _require_authentic(session: Session, found: BallotBox) -> BallotBox:
    if not audit.keyed_mac_holds(session, _record_text(found), found.mac):
        raise BoxRecordTampered()
    return found


_box = BallotBox.__table__
# built once: SQLAlchemy caches their compiled form (this runs once a batch of casts, the hot path)
_BOXES = select(*_box.c).where(_box.c.round_id.in_(bindparam("rounds", expanding=True)))  # rows: no ORM objects
_INSERT_SEALED = insert(SealedBallot.__table__).returning(SealedBallot.__table__.c.id)
_INSERT_OPENED = insert(Ballot.__table__)


def seal_casts(session: Session, casts: Sequence[tuple[int, bytes]]) -> None:
    """Store the accepted casts' ballots, (round id, marks) each, sealed to their rounds' keys: one query for
    the boxes (each one's record authenticated) and one insert for the batch, in the casts' transaction.
    Raises BoxRecordTampered (a swapped key: nothing is written, the casts are refused). A cast's token is spent
    only in a round that has a box (casting's spending statement says so), so every cast here has one."""
    boxes = {found.round_id: _require_authentic(session, found) for found in session.execute(
        _BOXES, {"rounds": sorted({round_id for round_id, _ in casts})})}
    # RETURNING makes SQLAlchemy send the rows as one multi-row INSERT ("insertmanyvalues", its compiled form
    # cached) rather than an executemany, which PostgreSQL's driver sends as a statement a row
    rows = []
    for round_id in boxes:  # each round's ballots sealed together: one key agreement for the batch's ballots of it
        batch = [marks for cast_round, marks in casts if cast_round == round_id]
        rows += [{"id": random_source.token_bytes(16), "round_id": round_id, "sealed": sealed}
                 for sealed in box.seal_batch(boxes[round_id].public_key, round_id, batch)]
    session.execute(_INSERT_SEALED, rows).all()


def _cast_tokens(session: Session, round_: Round) -> int:
    return session.scalar(select(func.count()).select_from(Token)
                          .where(Token.round_id == round_.id, Token.state == TokenState.CAST))


def _sealed_of(session: Session, round_: Round) -> list[bytes]:
    return list(session.scalars(select(SealedBallot.sealed).where(SealedBallot.round_id == round_.id)))


def record_close(session: Session, round_: Round, *, actor: str) -> None:
    """At the close: the number of sealed ballots and their digest, in the box and in the audit log (the board
    prints them on the close record). A box with nothing in it counts as opened: there is nothing to read."""
    found = _require_authentic(session, session.get(BallotBox, round_.id))
    sealed = _sealed_of(session, round_)
    found.sealed_count, found.sealed_digest = len(sealed), box.digest(sealed)
    if not sealed:
        found.opened_at, found.opened_by, found.opened_count = utcnow(), [], 0
        found.opened_digest = results.ballots_digest([])
    _authenticate(session, found)
    session.flush()
    audit.record(session, actor=actor, action="box.close", subject=f"round:{round_.id}",
                 details={"sealed": found.sealed_count, "digest": found.sealed_digest})


def box_of(session: Session, round_: Round) -> BallotBox | None:
    """The round's box, its record authenticated; None for a round issued before ballots were sealed (its ballots
    were stored opened then; it takes no tablet cast now). Raises BoxRecordTampered."""
    found = session.get(BallotBox, round_.id)
    return found if found is None else _require_authentic(session, found)


def check_card(session: Session, round_: Round, text: str) -> BoxCard:
    """The card of this round's box that a scanned or typed code stands for. Raises WrongCard (not a card, or not
    one of this box's), CardOfAnotherRound. Writes nothing."""
    try:
        card = box.parse_card(text)
    except ValueError:
        raise WrongCard() from None
    if card.round_id != round_.id:
        raise CardOfAnotherRound(round=card.round_id)
    found = session.get(BoxCard, (round_.id, card.index))
    if found is None or found.commitment != card.commitment:
        raise WrongCard()
    return found


def _cards_presented(session: Session, round_: Round, texts: Sequence[str]) -> tuple[list[box.Card], list[BoxCard]]:
    cards, records = [], []
    for text in texts:
        record = check_card(session, round_, text)
        if any(r.index == record.index for r in records):
            raise CardRepeated()
        cards.append(box.parse_card(text))
        records.append(record)
    return cards, records


def open_box(session: Session, round_: Round, *, account: Account, cards: Sequence[str],
             now: dt.datetime | None = None) -> int:
    """Open the round's box with the key cards presented (their QR payloads or typed codes): check each card,
    rebuild the key, check the sealed ballots against the close record, open them, and write them anew (one
    transaction, random order, fresh ids), the sealed rows deleted. Returns how many ballots were opened.

    Raises RoundSealed, NotCountingNow (not closed), NotOnBoard, BoxAlreadyOpen, WrongCard, CardOfAnotherRound,
    CardRepeated, NotEnoughCards, BoxChanged (a sealed ballot added, removed, changed, or not opening).
    """
    require_unsealed_state(round_, RoundState.CLOSED, refusal=NotCountingNow)
    require_board(account, round_)
    found = box_of(session, round_)
    if found is None or found.is_open:
        raise BoxAlreadyOpen()
    texts = [text for text in (t.strip() for t in cards) if text]
    presented, records = _cards_presented(session, round_, texts)
    if len(presented) < found.cards_needed:
        raise NotEnoughCards(needed=found.cards_needed, count=len(presented))
    key = box.combine(presented)
    if box.public_bytes(key) != found.public_key:
        raise WrongCard()
    sealed = _sealed_of(session, round_)
    if (len(sealed), box.digest(sealed)) != (found.sealed_count, found.sealed_digest):
        raise SealedSetChanged(count=len(sealed), recorded=found.sealed_count)
    if len(sealed) != _cast_tokens(session, round_):  # a ballot sealed by hand to the public key while voting
        raise SealedSetChanged(count=len(sealed), recorded=_cast_tokens(session, round_))
    opener = box.Opener(key, round_.id)
    try:
        opened = [opener.open(item) for item in sealed]
    except box.BoxTampered:
        raise SealedBallotTampered() from None
    del key, opener
    # fresh random ids, written in the order of those ids: no order of the sealed rows survives into the ballot
    # table (and an index filled in key order is written fastest)
    rows = sorted(({"id": random_source.token_bytes(16), "round_id": round_.id, "marks": marks} for marks in opened),
                  key=lambda row: row["id"])
    if rows:
        session.execute(_INSERT_OPENED, rows)
    session.execute(delete(SealedBallot).where(SealedBallot.round_id == round_.id))
    # the holders' names as they are now (None: the recovery card), for the minutes
    found.opened_at = now or utcnow()
    found.opened_by = [r.holder.display_name if r.holder else RECOVERY for r in records]
    found.opened_count, found.opened_digest = len(opened), results.ballots_digest(Sheet(m) for m in opened)
    _authenticate(session, found)
    session.flush()
    audit.record(session, actor=account.username, action="box.open", subject=f"round:{round_.id}",
                 details={"opened": len(opened), "digest": found.opened_digest, "cards": found.opened_by,
                          "recovery": any(r.holder_id is None for r in records)})
    _scrub_after_commit(session)
    return len(opened)


def _scrub_after_commit(session: Session) -> None:
    """Once the opening is committed, remove the dead copies of the deleted sealed rows: PostgreSQL's VACUUM (which
    cannot run inside a transaction) and, on SQLite, a checkpoint that truncates the WAL (the freed pages were
    overwritten by secure_delete). Nothing is lost if it cannot run now: the next VACUUM or checkpoint does it."""
    engine = session.get_bind()

    @event.listens_for(session, "after_commit", once=True)
    def scrub(_session):
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM sealed_ballot")
            return
        raw = engine.raw_connection()  # no BEGIN around it: a checkpoint cannot run inside a transaction
        try:
            cursor = raw.cursor()
            # a reader still in a transaction would hold the truncation back: don't wait for it (the board's page
            # must answer at once); the next checkpoint, at the last connection's close at the latest, does it
            cursor.execute("PRAGMA busy_timeout=100")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("PRAGMA busy_timeout=30000")
        finally:
            raw.close()


def record_of(session: Session, round_: Round) -> dict | None:
    """What the result document says of the box (ballots.results): the close record and the opening."""
    found = box_of(session, round_)
    if found is None:
        return None
    return {"sealed": found.sealed_count, "sealed_digest": found.sealed_digest, "opened": found.opened_count,
            "opened_digest": found.opened_digest, "opened_by": list(found.opened_by or [])}


def require_open(session: Session, round_: Round) -> None:
    """The count needs the box open (paper entry does not). Raises BoxNotOpen."""
    found = box_of(session, round_)
    if found is not None and not found.is_open:
        raise BoxNotOpen()


def check_opened(session: Session, round_: Round, tablet_sheets: Sequence[Sheet]) -> None:
    """The tablet ballots the count reads must be those the opening recorded. Raises BoxChanged naming the
    difference (a ballot added, removed or changed between the opening and the seal)."""
    found = box_of(session, round_)
    if found is None:
        return
    if len(tablet_sheets) != found.opened_count:
        raise OpenedSetChanged(count=len(tablet_sheets), recorded=found.opened_count)
    if results.ballots_digest(tablet_sheets) != found.opened_digest:
        raise OpenedBallotChanged()
