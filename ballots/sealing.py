"""Sealing: the board's approvals of the count, the seal that signs the result document, the sealed ballot list
for an independent recount, and the check of every sealed result against the rows it came from. The last step
of counting; it reads the count (counting.Count) and nothing of paper entry directly.

Takes a Session, flushes, never commits. With the round's quorum of approvals the result document
(trustvote.result/1, written by results.py) is signed with the instance's Ed25519 key and the round is sealed:
after that the domain refuses every change (RoundSealed) and so do the database's triggers.
"""

from __future__ import annotations

import datetime as dt
import json

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import audit, ballot_box, machine_entry, paper_entry, results, signing
from .authority import require_board
from .counting import Count, checked_count, count_of, has_anomaly
from .errors import AlreadyApproved, AnomalyNotRuled, NotCounted
from .formats import canonical_json, utc_stamp
from .lifecycle import SEALED, RoundState, advance, require_state, require_unsealed_state
from .models import (
    Account,
    Approval,
    AuditEntry,
    Candidate,
    Person,
    Result,
    ResultSummary,
    Round,
    utcnow,
)
from .rules import rule_set_of


def approvers(session: Session, round_: Round) -> list[str]:
    """The names of the board members who approved the count, sorted."""
    return sorted(session.scalars(select(Account.display_name).join(Approval, Approval.account_id == Account.id)
                                  .where(Approval.round_id == round_.id)))


def approve(
    session: Session, round_: Round, *, account: Account, key: Ed25519PrivateKey, now: dt.datetime | None = None
) -> bool:
    """A board member approves the count; with the round's quorum of approvals the result is sealed.

    Returns whether this approval sealed it. Raises RoundSealed, NotCounted, NotOnBoard, AlreadyApproved,
    AnomalyNotRuled.
    """
    require_unsealed_state(round_, RoundState.COUNTED, refusal=NotCounted)
    require_board(account, round_)
    if session.get(Approval, (round_.id, account.id)) is not None:
        raise AlreadyApproved()
    if not round_.anomaly_ruling and has_anomaly(session, round_):
        raise AnomalyNotRuled()
    now = now or utcnow()
    session.add(Approval(round_id=round_.id, account_id=account.id, approved_at=now))
    session.flush()
    audit.record(session, actor=account.username, action="count.approve", subject=f"round:{round_.id}", now=now)
    approvals = session.scalar(select(func.count()).select_from(Approval).where(Approval.round_id == round_.id))
    if approvals < round_.approvals_needed:
        return False
    seal_round(session, round_, key=key, now=now)
    return True


def round_info(round_: Round) -> dict:
    """The round as its result document names it: committee, conference, date, place, term and board."""
    conference = round_.conference
    committee = conference.committee
    return {"id": round_.id, "title": round_.title, "committee": committee.name, "level": committee.level,
            "parent": committee.parent.name if committee.parent else None, "conference": conference.name,
            "held_on": conference.held_on.isoformat(), "place": conference.place, "term": conference.term,
            "board": sorted(seat.account.display_name for seat in round_.board)}


def result_document(
    session: Session, round_: Round, *, audit_head: tuple[int, str], sealed_at: str | None, approved_by: list[str],
    counted: Count | None = None,
) -> dict:
    """The result document (trustvote.result/1) of the round as its rows stand now."""
    counted = counted or count_of(session, round_)
    return results.document(
        round_info=round_info(round_), rule_set=rule_set_of(round_), tally=counted.tally,
        candidates=[(printed or current, post) for printed, current, post in session.execute(  # one query
            select(Candidate.printed_name, Person.full_name, Candidate.post)
            .join(Candidate, Candidate.person_id == Person.id)
            .where(Candidate.round_id == round_.id).order_by(Candidate.position))],
        token_commitment=round_.commitment or "", digest=counted.digest, audit_head=audit_head,
        approved_by=approved_by, sealed_at=sealed_at, set_aside=counted.set_aside,
        ruled_sheets=counted.ruled_sheets, anomaly_ruling=round_.anomaly_ruling,
        ballot_box=ballot_box.record_of(session, round_),
        scanned=machine_entry.scanned_record(session, round_, paper_entry.sheet_states(session, round_)))


def current_document(session: Session, round_: Round) -> tuple[dict, Result | None]:
    """The round's result document: as sealed (with its Result row), or as it would be sealed now (a draft, for
    the board to read before approving; no sealing time, the audit log's head as it stands)."""
    result = session.get(Result, round_.id)
    if result is not None:
        return json.loads(result.document), result
    return result_document(session, round_, audit_head=audit.head(session), sealed_at=None,
                           approved_by=approvers(session, round_)), None


def seal_round(session: Session, round_: Round, *, key: Ed25519PrivateKey, now: dt.datetime | None = None) -> Result:
    """Sign the round's result document and freeze the round. Called by `approve` at the quorum of approvals.
    Raises BoxNotOpen, OpenedSetChanged, OpenedBallotChanged (the tablet ballots are checked once more)."""
    now = (now or utcnow()).replace(microsecond=0)
    counted = checked_count(session, round_)
    doc = result_document(session, round_, audit_head=audit.head(session), sealed_at=utc_stamp(now),
                          approved_by=approvers(session, round_), counted=counted)
    signed = results.sign_document(key, doc)
    text = canonical_json(doc)
    digest = results.digest_of(text)
    result = Result(round_id=round_.id, document=text, digest=digest, signature=signed["signature"],
                    public_key=signed["public_key"], key_fingerprint=signed["fingerprint"], sealed_at=now)
    session.add(result)
    session.add(ResultSummary(round_id=round_.id, **results.summary_of(doc)))
    machine_entry.dispose_images(session, round_, now=now)  # images are ballots: not kept past the seal
    advance(round_, RoundState.SEALED)
    session.flush()
    audit.record(session, actor="trustvote", action="round.seal", subject=f"round:{round_.id}", now=now,
                 details={"result_sha256": digest, "ballots_digest": doc["ballots_digest"],
                          "key": result.key_fingerprint})
    return result


def sealed_export(session: Session, round_: Round, *, actor: str) -> dict:
    """The sealed ballot list (trustvote.ballots/1), for the board's independent recount; the export is audited.
    Raises NotCounted before the seal."""
    require_state(round_, *SEALED, refusal=NotCounted)
    export = results.ballot_export(count_of(session, round_).sheets, round_id=round_.id)
    audit.record(session, actor=actor, action="ballots.export", subject=f"round:{round_.id}")
    return export


# What `verify_sealed` recomputes from the rows: the counts and digests, not the names (a committee, a person or a
# teller renamed after the seal changes no sealed result: the signed document keeps the names it was sealed with)
RECOUNTED = ("numbers", "base", "candidates", "anomalies", "token_commitment", "ballots_digest", "rule_set",
             "set_aside", "rulings", "ballot_box", "scanned")
NAMES_OF_A_CANDIDATE = ("name", "post")


def _counted_part(doc: dict, key: str, like: dict | None = None):
    if key == "rule_set" and like is not None and doc.get(key):  # settings added since `like` was sealed
        return {k: v for k, v in doc[key].items() if k in (like.get(key) or {})}
    if key == "scanned" and doc.get(key):  # who confirmed is named as the document was sealed
        return {k: v for k, v in doc[key].items() if k != "confirmed_by"} | {
            "confirmations": sum(doc[key].get("confirmed_by", {}).values())}
    if key == "candidates":
        return [{k: v for k, v in c.items() if k not in NAMES_OF_A_CANDIDATE} for c in doc["candidates"]]
    return doc.get(key)


def _approvers_now(session: Session, round_: Round) -> list[str]:
    """The usernames of the approvals' accounts (usernames do not change; display names may)."""
    return sorted(session.scalars(select(Account.username).join(Approval, Approval.account_id == Account.id)
                                  .where(Approval.round_id == round_.id)))


def _approvers_logged(session: Session, round_: Round) -> list[str]:
    """Who approved the count since paper entry was last reopened, as the audit log recorded it."""
    approved: list[str] = []
    for action, actor in session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.subject == f"round:{round_.id}",
                   AuditEntry.action.in_(("count.approve", "round.reopen_count"))).order_by(AuditEntry.seq)):
        approved = [] if action == "round.reopen_count" else [*approved, actor]
    return sorted(approved)


def verify_sealed(session: Session, public_key: bytes | None) -> list[str]:
    """Check every sealed result against the rows it was computed from; return the problems found (in English).

    Each result must be signed by this instance's key, be the document the seal's audit entry fingerprinted, name
    an audit head the chain still holds, have the counts and digests recomputed now from the round's ballots,
    paper entries and rulings, and its approvals must be those the audit log recorded.
    """
    problems = []
    seals = {entry.subject: json.loads(entry.details) for entry in session.scalars(
        select(AuditEntry).where(AuditEntry.action == "round.seal"))}
    found = set()
    for result in session.scalars(select(Result).order_by(Result.round_id)):
        subject = f"round:{result.round_id}"
        found.add(subject)
        where = f"round {result.round_id}"
        if public_key is None:
            problems.append(f"{where}: this instance has no signing key to check the result against")
        elif result.public_key != public_key.hex():
            problems.append(f"{where}: the result is signed with another key than this instance's")
        if not signing.verify(bytes.fromhex(result.public_key), result.document.encode(), result.signature):
            problems.append(f"{where}: the signature does not match the result")
        digest = results.digest_of(result.document)
        if digest != result.digest or seals.get(subject, {}).get("result_sha256") != digest:
            problems.append(f"{where}: the result is not the one the audit log recorded at its seal")
        round_ = session.get(Round, result.round_id)
        if round_.state not in SEALED:
            problems.append(f"{where}: the round is no longer sealed")
        stored = json.loads(result.document)
        head = stored["audit_head"]
        if session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == head["seq"])) != head["hash"]:
            problems.append(f"{where}: the audit log no longer holds the entry the result names as its head")
        now = result_document(session, round_, audit_head=(head["seq"], head["hash"]),
                              sealed_at=stored["sealed_at"], approved_by=approvers(session, round_))
        changed = sorted(k for k in RECOUNTED if _counted_part(stored, k) != _counted_part(now, k, like=stored))
        if changed:
            problems.append(f"{where}: the rows no longer give the sealed result ({', '.join(changed)} differ)")
        if _approvers_now(session, round_) != _approvers_logged(session, round_):
            problems.append(f"{where}: the rows no longer give the sealed result (approved_by differ: the approvals "
                            "are not those the audit log recorded)")
        summary = session.get(ResultSummary, result.round_id)
        if summary is None or any(getattr(summary, k) != v for k, v in results.summary_of(stored).items()):
            problems.append(f"{where}: the dashboard's summary does not match the sealed result")
    for subject in sorted(set(seals) - found):
        problems.append(f"{subject.replace(':', ' ')}: sealed in the audit log, but its result is missing")
    return problems
