"""Issuing ballots, voiding lost or spoiled ones and the board's accounting, on SQLite and PostgreSQL.

The secret of a ballot exists only on its sheet: the database keeps SHA-256 hashes, and the last test searches a
dump of the whole database for every secret in every form it could be written in.
"""

import base64
import hashlib
import json

import pytest
from sqlalchemy import event, func, select

from ballots import accounting, issuing, rounds, tokens
from ballots.errors import (
    BallotNotVoidable,
    InvalidInput,
    IssuingClosed,
    QuorumNotMet,
    TooManyBallots,
    UnknownBallot,
)
from ballots.models import AuditEntry, IssueBatch, Token
from tests.dumps import database_dump
from tests.factories import make_round

REASON = "Phiếu bị rách khi phát"


def _round(session, world, **kwargs):
    """A draft round of the commune with its board, 30 convened and 28 present unless told otherwise."""
    return make_round(session, world, **{"convened": 30, "present": 28, **kwargs}).round


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def _snapshot(session, round_):
    """Everything a refused issue must leave as it was."""
    session.flush()
    return {"tokens": _count(session, Token), "batches": _count(session, IssueBatch), "state": round_.state,
            "commitment": round_.commitment, "audit": _count(session, AuditEntry)}


def _issue_refused(session, round_, error, *, count=28, paper="A4"):
    """Issue `count` ballots, which is refused with `error`, and nothing changes (see _snapshot). Returns the
    refusal."""
    before = _snapshot(session, round_)
    with pytest.raises(error) as refused:
        issuing.issue_ballots(session, round_, count=count, paper=paper, actor="teller")
    assert _snapshot(session, round_) == before
    return refused.value


def _tokens(session):
    """Every token's (hash, state, reason): what a refused void must leave as it was."""
    return session.execute(select(Token.secret_hash, Token.state, Token.void_reason)
                           .order_by(Token.secret_hash)).all()


def _stored_hashes(session, round_):
    return set(session.scalars(select(Token.secret_hash).where(Token.round_id == round_.id)))


def _last_audit(session):
    return session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).one()


def _grouped(secret):
    return tokens.grouped(tokens.code_of(secret))


def _void_refused(session, round_, code, error, *, reason=REASON):
    """Void `code`, which is refused with `error`, and nothing changes: no token, no reason, no audit entry.
    Returns the refusal."""
    states, audit_before = _tokens(session), _count(session, AuditEntry)
    with pytest.raises(error) as refused:
        issuing.void_ballot(session, round_, code=code, reason=reason, actor="teller")
    assert _tokens(session) == states and _count(session, AuditEntry) == audit_before
    return refused.value


# --- issuing -------------------------------------------------------------------------------------------------


def test_issuing_28_stores_28_tokens_with_only_their_32_byte_hashes(session, world):
    round_ = _round(session, world)
    issuing.issue_ballots(session, round_, count=28, actor="teller")
    stored = session.execute(select(Token).where(Token.round_id == round_.id)).scalars().all()
    assert len(stored) == 28
    assert all(len(t.secret_hash) == 32 and t.state == "issued" and t.void_reason is None for t in stored)
    assert len({t.secret_hash for t in stored}) == 28
    # inserted in hash order, not in the order the sheets are printed: an id says nothing of a sheet
    by_id = sorted(stored, key=lambda t: t.id)
    assert [t.secret_hash for t in by_id] == sorted(t.secret_hash for t in stored)
    # a token has an id, its round, its batch, its hash, its state, a void reason and the hash of the
    # submission that spent it: no secret, no time
    assert set(Token.__table__.columns.keys()) == {"id", "round_id", "batch_id", "secret_hash", "state",
                                                    "void_reason", "submission_hash"}


def test_issuing_returns_distinct_16_byte_secrets_whose_sha256_are_the_stored_hashes(session, world):
    round_ = _round(session, world)
    issued = issuing.issue_ballots(session, round_, count=28, actor="teller")
    assert len(issued.secrets) == len(set(issued.secrets)) == 28
    assert all(isinstance(s, bytes) and len(s) == 16 for s in issued.secrets)
    assert {hashlib.sha256(s).digest() for s in issued.secrets} == _stored_hashes(session, round_)
    # and no stored hash equals a secret (the secret itself is never what is kept)
    assert not set(issued.secrets) & _stored_hashes(session, round_)


def test_an_issue_is_recorded_as_a_batch_with_the_commitment_over_its_hashes(session, world):
    round_ = _round(session, world)
    issued = issuing.issue_ballots(session, round_, count=28, paper="A5", actor="teller")
    batch = session.scalars(select(IssueBatch)).one()
    assert batch is issued.batch
    assert (batch.round_id, batch.count, batch.paper, batch.issued_by) == (round_.id, 28, "A5", "teller")
    assert batch.commitment == tokens.commitment(tokens.hash_secret(s) for s in issued.secrets)
    assert batch.commitment == tokens.commitment(_stored_hashes(session, round_))
    assert batch.issued_at is not None  # the batch is dated; its tokens are not
    assert set(session.scalars(select(Token.batch_id))) == {batch.id}


def test_an_issue_commits_the_round_to_its_tokens_and_moves_a_draft_round_to_issued(session, world):
    round_ = _round(session, world)
    assert round_.state == "draft" and round_.commitment is None
    issuing.issue_ballots(session, round_, count=28, actor="teller")
    assert round_.state == "issued"
    assert round_.commitment == tokens.commitment(_stored_hashes(session, round_))


def test_an_issue_appends_an_audit_entry_with_the_count_and_both_commitments(session, world):
    round_ = _round(session, world)
    before = _count(session, AuditEntry)
    issued = issuing.issue_ballots(session, round_, count=28, actor="teller")
    # the first batch also makes the ballot box (its own entry: the public key, the cards needed, the holders)
    assert _count(session, AuditEntry) == before + 2
    entry = _last_audit(session)
    assert (entry.actor, entry.action, entry.subject) == ("teller", "ballots.issue", f"round:{round_.id}")
    assert json.loads(entry.details) == {"batch": issued.batch.id, "count": 28, "paper": "A4",
                                         "batch_commitment": issued.batch.commitment,
                                         "round_commitment": round_.commitment}


def test_spares_are_issued_later_within_present_plus_spares_and_the_round_commitment_covers_both(session, world):
    round_ = _round(session, world, spares=2)
    first = issuing.issue_ballots(session, round_, count=28, actor="teller")
    after_first = round_.commitment
    round_.state = "open"  # spares may still be issued while the vote is open
    session.flush()
    # 28 live + 2 spares = 30 = 28 present + 2 spares: allowed
    second = issuing.issue_ballots(session, round_, count=2, actor="teller")
    assert _count(session, Token) == 30 and _count(session, IssueBatch) == 2
    assert round_.state == "open"  # only a draft round moves on
    all_hashes = [tokens.hash_secret(s) for s in first.secrets + second.secrets]
    assert round_.commitment == tokens.commitment(all_hashes) != after_first
    assert second.batch.commitment == tokens.commitment(tokens.hash_secret(s) for s in second.secrets)
    assert first.batch.commitment == after_first  # the first batch was the whole round then


def test_exactly_two_thirds_present_meets_the_quorum(session, world):
    # 20 of 30: 3 * 20 = 60 >= 2 * 30 = 60
    round_ = _round(session, world, convened=30, present=20)
    issuing.issue_ballots(session, round_, count=20, actor="teller")
    assert _count(session, Token) == 20


def test_less_than_two_thirds_present_is_refused_and_nothing_changes(session, world):
    # 19 of 30: 3 * 19 = 57 < 2 * 30 = 60
    round_ = _round(session, world, convened=30, present=19)
    refused = _issue_refused(session, round_, QuorumNotMet, count=19)
    assert refused.params == {"present": 19, "convened": 30}
    assert str(refused) == ("The vote cannot proceed: 19 present of 30 convened is less than two thirds.")
    assert refused.status == 409
    assert round_.state == "draft" and _count(session, Token) == 0


def test_more_than_present_plus_spares_is_refused_and_nothing_changes(session, world):
    round_ = _round(session, world, spares=2)
    issuing.issue_ballots(session, round_, count=28, actor="teller")
    # 28 live + 3 = 31 > 28 present + 2 spares = 30
    refused = _issue_refused(session, round_, TooManyBallots, count=3)
    assert refused.params == {"count": 3, "total": 31, "present": 28, "spares": 2}
    assert str(refused) == ("Issuing 3 more ballots would make 31, more than the 28 present plus 2 spares "
                            "declared.")
    assert _count(session, Token) == 28 and _count(session, IssueBatch) == 1


def test_a_first_issue_above_the_number_present_is_refused(session, world):
    round_ = _round(session, world)
    # no spares declared: 29 > 28 + 0
    refused = _issue_refused(session, round_, TooManyBallots, count=29)
    assert refused.params == {"count": 29, "total": 29, "present": 28, "spares": 0}


def test_a_batch_of_zero_a_negative_count_or_more_than_the_maximum_is_refused(session, world):
    round_ = _round(session, world, convened=6000, present=5500, spares=100)
    # even with room for 5,600 ballots, one batch holds at most MAX_BATCH = 5,000
    for count in (0, -1, -28, issuing.MAX_BATCH + 1):
        refused = _issue_refused(session, round_, InvalidInput, count=count)
        assert type(refused) is InvalidInput
        assert refused.params == {"max": 5000}
        assert str(refused) == "Issue between 1 and 5000 ballots at a time."


def test_a_round_without_a_counting_board_cannot_issue(session, world):
    round_ = _round(session, world, board=())
    refused = _issue_refused(session, round_, InvalidInput)
    assert str(refused) == "The round has no counting board: name it before issuing ballots."


def test_a_round_without_candidates_cannot_issue(session, world):
    round_ = _round(session, world)
    rounds.set_candidates(session, round_, [], actor="test")
    refused = _issue_refused(session, round_, InvalidInput)
    assert str(refused) == "The round has no candidate to print on its ballots."


def test_an_unknown_paper_size_is_refused(session, world):
    round_ = _round(session, world)
    for paper in ("A3", "a4", "Letter", ""):
        refused = _issue_refused(session, round_, InvalidInput, paper=paper)
        assert refused.params == {"value": paper}
        assert str(refused) == f"Unknown paper size: {paper}."


def test_a_closed_round_cannot_issue(session, world):
    round_ = make_round(session, world, until="closed", convened=30, present=28, issue=20).round
    refused = _issue_refused(session, round_, IssuingClosed, count=1)
    assert refused.params == {"state": "closed"} and refused.status == 409
    assert str(refused) == "Ballots can no longer be issued or voided for this round: it is closed."


# --- voiding -------------------------------------------------------------------------------------------------


def test_a_ballot_is_voided_by_its_grouped_code_its_lower_case_code_or_its_whole_qr_payload(session, world):
    issued = make_round(session, world, until="issued", issue=5)
    round_ = issued.round
    first, second, third = issued.secrets[:3]
    forms = [_grouped(first), tokens.code_of(second).lower(), tokens.qr_payload("https://bau.example.vn", third)]
    for secret, code in zip((first, second, third), forms):
        issuing.void_ballot(session, round_, code=code, reason=REASON, actor="teller")
        token = session.scalars(select(Token).where(Token.secret_hash == tokens.hash_secret(secret))).one()
        assert (token.state, token.void_reason) == ("void", REASON)
    assert sorted(state for _, state, _ in _tokens(session)) == ["issued"] * 2 + ["void"] * 3


def test_the_void_reason_is_kept_with_its_spaces_tidied(session, world):
    built = make_round(session, world, until="issued", issue=1)
    round_, secret = built.round, built.secrets[0]
    issuing.void_ballot(session, round_, code=_grouped(secret), reason="  Đại biểu   làm mất\tphiếu ",
                        actor="teller")
    assert session.scalar(select(Token.void_reason)) == "Đại biểu làm mất phiếu"


def test_voiding_frees_room_for_a_replacement(session, world):
    round_ = _round(session, world)
    issued = issuing.issue_ballots(session, round_, count=28, actor="teller")
    with pytest.raises(TooManyBallots):  # 28 live + 1 > 28 present
        issuing.issue_ballots(session, round_, count=1, actor="teller")
    issuing.void_ballot(session, round_, code=_grouped(issued.secrets[0]), reason=REASON, actor="teller")
    assert accounting.live_count(session, round_) == 27  # the void one no longer counts
    replacement = issuing.issue_ballots(session, round_, count=1, actor="teller")  # 27 + 1 = 28
    assert accounting.live_count(session, round_) == 28 and _count(session, Token) == 29
    # the round's commitment covers every token, the void one too: 29 hashes
    assert round_.commitment == tokens.commitment(
        tokens.hash_secret(s) for s in issued.secrets + replacement.secrets)


def test_a_typo_in_the_code_is_refused_before_any_lookup(session, world):
    built = make_round(session, world, until="issued", issue=3)
    round_, secret = built.round, built.secrets[0]
    code = tokens.code_of(secret)
    typo = code[:5] + ("X" if code[5] != "X" else "Y") + code[6:]
    session.flush()
    states, audit_before = _tokens(session), _count(session, AuditEntry)
    statements = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        with pytest.raises(tokens.MalformedCode):
            issuing.void_ballot(session, round_, code=tokens.grouped(typo), reason=REASON, actor="teller")
        assert statements == []  # refused without a single query
        # the listener does see queries: a well-formed unknown code is looked up
        with pytest.raises(UnknownBallot):
            issuing.void_ballot(session, round_, code=tokens.code_of(bytes(16)), reason=REASON, actor="teller")
        assert statements
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    assert _tokens(session) == states and _count(session, AuditEntry) == audit_before


def test_an_unknown_well_formed_code_is_refused(session, world):
    round_ = make_round(session, world, until="issued", issue=3).round
    refused = _void_refused(session, round_, _grouped(tokens.new_secret()), UnknownBallot)
    assert refused.status == 404 and str(refused) == "No ballot of this round has this code."


def test_a_code_of_another_round_is_unknown_in_this_one(session, world):
    round_ = make_round(session, world, until="issued", issue=3).round
    theirs = make_round(session, world, until="issued", title="Lấy phiếu tín nhiệm Ban Thường vụ", issue=3).secrets[0]
    _void_refused(session, round_, _grouped(theirs), UnknownBallot)
    assert session.scalar(select(Token.state).where(Token.secret_hash == tokens.hash_secret(theirs))) == "issued"


def test_a_ballot_cannot_be_voided_twice(session, world):
    built = make_round(session, world, until="issued", issue=3, void=[0])
    refused = _void_refused(session, built.round, built.grouped[0], BallotNotVoidable, reason="Lần thứ hai")
    # the refusal names the state in words (lifecycle.TOKEN_STATE_WORDS): the token's state "void" reads "voided"
    assert refused.params == {"state": "voided"} and refused.status == 409
    assert str(refused) == "This ballot cannot be voided: it is already voided."  # and the first reason is kept


def test_a_cast_ballot_cannot_be_voided(session, world):
    built = make_round(session, world, until="open", issue=3, tablet=["1230"])
    assert _void_refused(session, built.round, built.grouped[0], BallotNotVoidable).params == {"state": "cast"}


def test_a_void_without_a_reason_is_refused(session, world):
    built = make_round(session, world, until="issued", issue=3)
    for reason in ("", "   ", "\t\n", None):
        refused = _void_refused(session, built.round, built.grouped[0], InvalidInput, reason=reason)
        assert type(refused) is InvalidInput and str(refused) == "Say why the ballot is voided."


def test_a_ballot_of_a_closed_round_cannot_be_voided(session, world):
    built = make_round(session, world, until="closed", issue=3)
    assert _void_refused(session, built.round, built.grouped[0], IssuingClosed).params == {"state": "closed"}


def test_the_void_audit_entry_has_no_time_and_neither_the_code_nor_the_hash(session, world):
    built = make_round(session, world, until="issued", issue=3)
    round_, secret = built.round, built.secrets[0]
    before = _count(session, AuditEntry)
    issuing.void_ballot(session, round_, code=_grouped(secret), reason=REASON, actor="teller")
    assert _count(session, AuditEntry) == before + 1
    entry = _last_audit(session)
    assert (entry.action, entry.subject, entry.actor) == ("ballot.void", f"round:{round_.id}", "teller")
    assert entry.at is None
    assert json.loads(entry.details) == {"reason": REASON}
    code, token_hash = tokens.code_of(secret), tokens.hash_secret(secret)
    written = f"{entry.actor} {entry.action} {entry.subject} {entry.details}".upper()
    for form in (code, tokens.grouped(code), secret.hex(), token_hash.hex(),
                 base64.b64encode(secret).decode().rstrip("="), base64.b64encode(token_hash).decode().rstrip("=")):
        assert form.upper() not in written


# --- secrecy -------------------------------------------------------------------------------------------------


def _forms(secret: bytes) -> list[bytes]:
    """Every way a secret could have been written down, as bytes to look for (upper and lower case)."""
    code = tokens.code_of(secret)
    texts = [secret.hex(), code, tokens.grouped(code), base64.b64encode(secret).decode().rstrip("="),
             base64.urlsafe_b64encode(secret).decode().rstrip("="), base64.b32encode(secret).decode().rstrip("=")]
    found = {secret}
    for text in texts:
        found |= {text.encode(), text.lower().encode(), text.upper().encode()}
    return sorted(found)


def test_no_secret_is_stored_in_any_form(session, world, engine):
    issued = make_round(session, world, until="issued", issue=6)
    round_ = issued.round
    issuing.void_ballot(session, round_, code=tokens.qr_payload("https://bau.example.vn", issued.secrets[0]),
                        reason=REASON, actor="teller")
    session.commit()
    dumps = database_dump(engine)
    assert dumps and all(dumps)
    for secret in issued.secrets:
        for form in _forms(secret):
            assert not any(form in dump for dump in dumps), (secret.hex(), form)
    # the search finds what is there: a token's hash, as hex in the dump (SQLite X'..', PostgreSQL \x..)
    token_hash = tokens.hash_secret(issued.secrets[1])
    assert token_hash.hex().encode() in dumps[0].lower()
    assert round_.commitment.encode() in dumps[0]
    if engine.dialect.name == "sqlite":
        assert any(token_hash in raw for raw in dumps[1:])  # and as raw bytes in the file or its WAL


def test_the_first_batch_is_refused_while_a_candidate_no_longer_sits_on_the_committee(session, world):
    """Nothing silently printed: a seat removed outside the organizer's page (a roster of old, a database edit)
    leaves its person on the draft's list; the first batch fixes the names, so it is refused, naming them."""
    from ballots.errors import CandidateDeparted
    from ballots.models import Membership

    round_ = make_round(session, world).round
    seat = session.scalars(select(Membership).where(
        Membership.person_id == world.people["Phạm Thị Hương"].id, Membership.committee_id == world.commune.id)).one()
    session.delete(seat)
    session.flush()
    session.expire(world.commune)
    with pytest.raises(CandidateDeparted, match="Phạm Thị Hương"):
        issuing.issue_ballots(session, round_, count=5, actor="teller")
    assert session.scalar(select(func.count()).select_from(Token)) == 0
