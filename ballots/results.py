"""The result document of a round (format trustvote.result/1): canonical JSON, signed with the instance key.

    {"format": "trustvote.result/1",
     "round": {...}, "rule_set": {...},
     "numbers": {"convened", "present", "absent", "issued", "collected", "not_collected", "valid", "invalid",
                 "invalid_reasons": {reason: count}},
     "base": {"name": "collected" | "issued" | "convened", "value": N},
     "candidates": [{"position", "name", "post", "high", "trust", "low", "invalid",
                     "flags": {"more_than_half", "two_thirds_or_more", "more_than_two_thirds"}}],
     "anomalies": [...], "token_commitment": hex, "ballots_digest": hex,
     "audit_head": {"seq", "hash"}, "approved_by": [...], "sealed_at": ISO UTC time,
     "set_aside": {"duplicates": paper sheets set aside as copies of a ballot already used, counted nowhere,
                   "used_on_tablet": those whose code was used on a tablet, "other_sheet": those whose code was on
                   another paper sheet (duplicates = used_on_tablet + other_sheet; a teller scanning a sheet they
                   already entered is no duplicate)},
     "rulings": {"sheets": paper sheets decided by the board because their independent entries disagreed,
                 "anomaly": the board's written ruling on an anomaly (e.g. more collected than issued) or null},
     "ballot_box": {"sealed": tablet ballots sealed in the box at the close, "sealed_digest": their digest
                    (ballots.box.digest), "opened": ballots opened, "opened_digest": the ballots digest of the opened
                    tablet ballots, "opened_by": [names of the holders of the cards presented; null for the
                    recovery card of the upper-level committee]} or null for a round whose ballots were not sealed,
     "software": "trustvote X.Y.Z"}

Canonical: keys sorted, no spaces, UTF-8 (formats.canonical_json); times are UTC "YYYY-MM-DDTHH:MM:SSZ"
(formats.utc_stamp). The signed envelope, written here and nowhere else, is
{"result": <document>, "signature": base64 Ed25519 over the canonical document, "public_key": hex, "fingerprint":
hex SHA-256 of the public key}. The ballots digest is SHA-256 over the sorted lines "MARKS FLAWS" of the sealed
ballot export (marks as digits, flaws sorted and comma-joined, "-" for none), one per line with a final newline:
anyone holding the export can recompute it, and recount.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import __version__, signing
from .formats import canonical_json
from .models import Result
from .rules import THRESHOLDS, RuleSet
from .tally import Sheet, Tally

FORMAT = "trustvote.result/1"
EXPORT_FORMAT = "trustvote.ballots/1"


DIGITS = bytes.maketrans(bytes(range(10)), b"0123456789")


def sheet_line(sheet: Sheet) -> str:
    return sheet.marks.translate(DIGITS).decode() + " " + (",".join(sorted(sheet.flaws)) or "-")


def ballots_digest(sheets: Iterable[Sheet]) -> str:
    # bytes sort as the ASCII lines do; a sheet without flaws (almost all) skips the string work
    lines = sorted(sheet.marks.translate(DIGITS) + b" -\n" if not sheet.flaws else (sheet_line(sheet) + "\n").encode()
                   for sheet in sheets)
    return hashlib.sha256(b"".join(lines)).hexdigest()


def ballot_export(sheets: Iterable[Sheet], *, round_id: int) -> dict:
    """The sealed ballot list, for the board's independent recount only: sorted, so it says nothing of order."""
    return {"format": EXPORT_FORMAT, "round": round_id, "ballots": sorted(sheet_line(s) for s in sheets)}


def document(
    *,
    round_info: dict,
    rule_set: RuleSet,
    tally: Tally,
    candidates: list[tuple[str, str]],
    token_commitment: str,
    digest: str,
    audit_head: tuple[int, str],
    approved_by: list[str],
    sealed_at: str | None = None,
    set_aside: Mapping[str, int] | None = None,
    ruled_sheets: int = 0,
    anomaly_ruling: str | None = None,
    ballot_box: dict | None = None,
    scanned: dict | None = None,
) -> dict:
    # a round whose paper sheets were scanned says so (machine_entry.scanned_record); older documents and
    # rounds without scans have no such part, so their documents and fingerprints are unchanged
    return ({"scanned": scanned} if scanned else {}) | {
        "format": FORMAT,
        "round": round_info,
        "rule_set": {"key": rule_set.key, **rule_set.settings()},
        "numbers": {
            "convened": tally.convened, "present": tally.present, "absent": tally.convened - tally.present,
            "issued": tally.issued, "collected": tally.collected, "not_collected": tally.not_collected,
            "valid": tally.valid, "invalid": tally.invalid,
            "invalid_reasons": dict(sorted(tally.invalid_reasons.items())),
        },
        "base": {"name": tally.base_name, "value": tally.base},
        "candidates": [
            {"position": position, "name": name, "post": post, "high": count.high, "trust": count.trust,
             "low": count.low, "invalid": count.invalid, "flags": dict(count.flags)}
            for position, ((name, post), count) in enumerate(zip(candidates, tally.candidates, strict=True), start=1)
        ],
        "anomalies": list(tally.anomalies),
        "token_commitment": token_commitment,
        "ballots_digest": digest,
        "audit_head": {"seq": audit_head[0], "hash": audit_head[1]},
        "approved_by": sorted(approved_by),
        "sealed_at": sealed_at,
        "set_aside": {"duplicates": sum((set_aside or {}).values()), "used_on_tablet": 0, "other_sheet": 0,
                      **(set_aside or {})},
        "rulings": {"sheets": ruled_sheets, "anomaly": anomaly_ruling},
        "ballot_box": ballot_box,
        "software": f"trustvote {__version__}",
    }


def digest_of(text: str) -> str:
    """The result's fingerprint: SHA-256 (hex) of its canonical JSON, the exact bytes the signature covers."""
    return hashlib.sha256(text.encode()).hexdigest()


def envelope(doc: dict, *, signature: str, public_key: str, fingerprint: str) -> dict:
    """The signed envelope of a result document (see the module's docstring)."""
    return {"result": doc, "signature": signature, "public_key": public_key, "fingerprint": fingerprint}


def sign_document(key: Ed25519PrivateKey, doc: dict) -> dict:
    """Sign a result document with the instance's key; return its envelope."""
    return envelope(doc, signature=signing.sign(key, canonical_json(doc).encode()),
                    public_key=signing.public_bytes(key).hex(), fingerprint=signing.fingerprint(key))


def envelope_of(result: Result) -> dict:
    """The signed envelope of a sealed result, as stored at its seal."""
    return envelope(json.loads(result.document), signature=result.signature, public_key=result.public_key,
                    fingerprint=result.key_fingerprint)


def envelope_file(envelope: dict) -> str:
    """The signed result as a downloaded JSON file: indented for a person to read. The signature covers the
    canonical form of its "result", not these bytes, so a verifier re-serialises the document first."""
    return json.dumps(envelope, ensure_ascii=False, indent=2, sort_keys=True)


def summary_of(doc: dict) -> dict:
    """The few numbers of a result document that the upper-level dashboard shows (kept beside each sealed or
    imported result, so that a dashboard of thousands of committees parses no document)."""
    numbers = doc["numbers"]
    crossed = {key: sum(1 for c in doc["candidates"] if c["flags"][key]) for key in THRESHOLDS}
    return {"issued": numbers["issued"], "collected": numbers["collected"], "convened": numbers["convened"],
            "present": numbers["present"], **crossed}
