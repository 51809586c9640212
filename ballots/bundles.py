"""Results carried up the tree: a conference's laptop exports a published result as a signed bundle; the upper
level's server, which knows the laptop's public key, imports it and shows it like a local result.

Format trustvote.bundle/1 (JSON): {"format", "committee_path": [names from the root to the round's committee],
"published_at": ISO UTC, "result": <the signed result envelope of ballots.results>, "signature": base64 Ed25519,
by the same key, over the canonical JSON of everything else}. Importing checks, in order: the format, that the
key is registered here, both signatures, the arithmetic of the result, that the committee is in this server's
tree within the key's reach and in the importer's, and that it was not imported before. Any failure imports
nothing. Takes a Session, flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, results, signing
from .authority import ancestors, has_role
from .errors import (
    N_,
    AlreadyImported,
    BadArithmetic,
    BadSignature,
    Conflict,
    InvalidInput,
    NotPublishedYet,
    TreeMismatch,
    UnknownKey,
)
from .fields import one_line
from .formats import canonical_json, utc_stamp
from .lifecycle import RoundState, require_state
from .models import Account, Committee, ImportedResult, Publication, Result, Round, TrustedKey, utcnow
from .rules import BASES, crossed_thresholds

FORMAT = "trustvote.bundle/1"
MAX_BUNDLE = 2 * 1024 * 1024


def committee_path(committee: Committee) -> list[str]:
    return [c.name for c in reversed(ancestors(committee))]


def export_bundle(session: Session, round_: Round, *, key, actor: str) -> dict:
    """The signed bundle of a published round. Raises NotPublishedYet if it is not published. Audited."""
    require_state(round_, RoundState.PUBLISHED, refusal=NotPublishedYet)
    result = session.get(Result, round_.id)
    publication = session.get(Publication, round_.id)
    body = {
        "format": FORMAT,
        "committee_path": committee_path(round_.conference.committee),
        "published_at": utc_stamp(publication.published_at),
        "result": results.envelope_of(result),
    }
    audit.record(session, actor=actor, action="result.export_bundle", subject=f"round:{round_.id}")
    return {**body, "signature": signing.sign(key, canonical_json(body).encode())}


def register_key(session: Session, *, public_key: str, label: str, committee: Committee, actor: str) -> TrustedKey:
    """Register another instance's public key (64 hex digits) for results of `committee` and below.

    Raises InvalidInput (malformed key, empty label), Conflict (already registered)."""
    public_key = (public_key or "").strip().lower()
    label = one_line(label)
    try:
        raw = bytes.fromhex(public_key)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise InvalidInput(N_("A public key is 64 hexadecimal digits (the raw Ed25519 key)."))
    if not label or len(label) > 200:
        raise InvalidInput(N_("Give the key a name of at most 200 characters (e.g. the conference's laptop)."))
    if session.scalar(select(TrustedKey).where(TrustedKey.public_key == public_key)) is not None:
        raise Conflict(N_("This key is already registered."))
    key = TrustedKey(public_key=public_key, label=label, committee_id=committee.id, registered_by=actor)
    session.add(key)
    session.flush()
    audit.record(session, actor=actor, action="key.register", subject=f"committee:{committee.id}",
                 details={"fingerprint": hashlib.sha256(raw).hexdigest(), "label": label})
    return key


def parse(raw: bytes) -> dict:
    """The bundle in an uploaded file. Raises InvalidInput for anything that is not one."""
    if len(raw) > MAX_BUNDLE:
        raise InvalidInput(N_("The file is larger than a result bundle can be."))
    try:
        bundle = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        bundle = None
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise InvalidInput(N_("This file is not a TrustVote result bundle."))
    return bundle


def arithmetic_problems(doc: dict) -> list[str]:
    """What does not add up in a result document (its numbers, its base, each candidate's counts and flags)."""
    problems = []
    numbers, rules, base = doc["numbers"], doc["rule_set"], doc["base"]
    if numbers["valid"] + numbers["invalid"] != numbers["collected"]:
        problems.append("valid + invalid is not collected")
    if sum(numbers["invalid_reasons"].values()) != numbers["invalid"]:
        problems.append("the reasons of invalid ballots do not add up")
    if rules["base"] not in BASES or base != {"name": rules["base"], "value": numbers[rules["base"]]}:
        problems.append("the base is not the one of the rule set")
    for candidate in doc["candidates"]:
        if candidate["high"] + candidate["trust"] + candidate["low"] + candidate["invalid"] != numbers["valid"]:
            problems.append(f"the counts of candidate {candidate['position']} are not the valid ballots")
        if candidate["flags"] != crossed_thresholds(candidate["low"], base["value"]):
            problems.append(f"the thresholds of candidate {candidate['position']} do not follow from its counts")
    return problems


def _find_committee(session: Session, path: list[str]) -> Committee | None:
    parent_id, found = None, None
    for name in path:
        found = session.scalar(select(Committee).where(Committee.parent_id.is_(parent_id) if parent_id is None
                                                       else Committee.parent_id == parent_id,
                                                       Committee.name == name))
        if found is None:
            return None
        parent_id = found.id
    return found


def import_bundle(session: Session, bundle: dict, *, account: Account, now: dt.datetime | None = None) -> ImportedResult:
    """Verify a bundle and record its result. Raises InvalidInput, UnknownKey, BadSignature, BadArithmetic,
    TreeMismatch, AlreadyImported."""
    try:
        envelope, path = bundle["result"], bundle["committee_path"]
        doc, public_key = envelope["result"], envelope["public_key"]
        body = {k: v for k, v in bundle.items() if k != "signature"}
        if not (isinstance(path, list) and path and all(isinstance(n, str) for n in path)):
            raise TypeError
        raw_key = bytes.fromhex(public_key)
        if not (isinstance(doc["round"]["title"], str) and isinstance(doc["numbers"], dict)
                and isinstance(doc["candidates"], list)):
            raise TypeError
    except (KeyError, TypeError, ValueError, AttributeError):
        raise InvalidInput(N_("This file is not a TrustVote result bundle.")) from None
    key = session.scalar(select(TrustedKey).where(TrustedKey.public_key == public_key.lower()))
    if key is None:
        raise UnknownKey(fingerprint=hashlib.sha256(raw_key).hexdigest()[:16])
    text = canonical_json(doc)
    if not (signing.verify(raw_key, canonical_json(body).encode(), str(bundle.get("signature", "")))
            and signing.verify(raw_key, text.encode(), str(envelope.get("signature", "")))):
        raise BadSignature()
    try:
        problems = arithmetic_problems(doc)
    except (KeyError, TypeError):
        problems = ["fields are missing"]
    if problems:
        raise BadArithmetic(problem=problems[0])
    committee = _find_committee(session, path)
    if (committee is None or doc["round"].get("committee") != committee.name
            or key.committee_id not in {c.id for c in ancestors(committee)}
            or not has_role(account, "organizer", committee)):
        raise TreeMismatch(path=" › ".join(path))
    digest = results.digest_of(text)
    if session.scalar(select(ImportedResult.id).where(ImportedResult.digest == digest)) is not None:
        raise AlreadyImported()
    imported = ImportedResult(
        committee_id=committee.id, key_id=key.id, document=text, digest=digest, signature=envelope["signature"],
        title=str(doc["round"]["title"])[:200], audience=list(doc["rule_set"].get("audience", [])),
        published_at=str(bundle.get("published_at", ""))[:20], imported_by=account.username,
        imported_at=now or utcnow(), **results.summary_of(doc))
    session.add(imported)
    session.flush()
    audit.record(session, actor=account.username, action="result.import", subject=f"committee:{committee.id}",
                 details={"result_sha256": digest, "key": hashlib.sha256(raw_key).hexdigest()})
    return imported

