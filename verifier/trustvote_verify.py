#!/usr/bin/env python3
"""Check a TrustVote result on your own machine, with no code from TrustVote: only Python and `cryptography`.

    python3 trustvote_verify.py RESULT.json --public-key HEX_OR_FILE [--ballots EXPORT.json]

It checks (1) that the public key is the one you expect (compare its fingerprint with the one printed on the
minutes), (2) the Ed25519 signature over the canonical JSON of the result, (3) the arithmetic: valid + invalid
= collected, the base, each candidate's counts against the valid ballots, and the three thresholds by exact
integer arithmetic, and (4), given the counting board's sealed ballot export, a recount from the ballots and
their digest. It prints what it checked and exits 0 only if everything holds.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

RESULT_FORMAT = "trustvote.result/1"
EXPORT_FORMAT = "trustvote.ballots/1"


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def check_signature(envelope: dict, public_key: bytes) -> list[str]:
    problems = []
    if envelope.get("public_key") != public_key.hex():
        problems.append("the result names another public key than the one given")
    if envelope.get("fingerprint") != hashlib.sha256(public_key).hexdigest():
        problems.append("the fingerprint in the result is not the fingerprint of the public key")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            base64.b64decode(envelope["signature"], validate=True), canonical(envelope["result"]))
    except (InvalidSignature, ValueError, KeyError, TypeError):
        problems.append("the signature does not match the result under this public key")
    return problems


def flags(low: int, base: int) -> dict:
    if base <= 0:
        return {"more_than_half": False, "two_thirds_or_more": False, "more_than_two_thirds": False}
    return {"more_than_half": 2 * low > base, "two_thirds_or_more": 3 * low >= 2 * base,
            "more_than_two_thirds": 3 * low > 2 * base}


def check_arithmetic(result: dict) -> list[str]:
    problems = []
    numbers, rules = result["numbers"], result["rule_set"]
    if numbers["valid"] + numbers["invalid"] != numbers["collected"]:
        problems.append("valid + invalid is not the number collected")
    if sum(numbers["invalid_reasons"].values()) != numbers["invalid"]:
        problems.append("the reasons for invalid ballots do not add up to the number invalid")
    if numbers["absent"] != numbers["convened"] - numbers["present"]:
        problems.append("absent is not convened - present")
    came_back = numbers["collected"] - numbers["invalid_reasons"].get("not_issued", 0)
    if numbers["not_collected"] != max(0, numbers["issued"] - came_back):
        problems.append("not collected is not issued - (collected - sheets not issued by the board)")
    base_value = {"collected": numbers["collected"], "issued": numbers["issued"],
                  "convened": numbers["convened"]}.get(rules["base"])
    if result["base"] != {"name": rules["base"], "value": base_value}:
        problems.append("the base is not the one the rule set names")
    if numbers["collected"] > numbers["issued"] and "collected_exceeds_issued" not in result["anomalies"]:
        problems.append("more ballots collected than issued, and the result does not say so")
    set_aside = result.get("set_aside") or {}
    if "used_on_tablet" in set_aside and set_aside.get("duplicates") != (
            set_aside["used_on_tablet"] + set_aside.get("other_sheet", 0)):
        problems.append("the duplicates set aside are not those used on a tablet plus those on another sheet")
    for candidate in result["candidates"]:
        counted = candidate["high"] + candidate["trust"] + candidate["low"]
        expected_total = numbers["valid"]
        if counted + candidate["invalid"] != expected_total:
            problems.append(f"candidate {candidate['position']}: the counts do not add up to the valid ballots")
        if rules["invalid_mark_policy"] == "ballot" and candidate["invalid"]:
            problems.append(f"candidate {candidate['position']}: invalid rows under a whole-ballot rule")
        if candidate["flags"] != flags(candidate["low"], base_value or 0):
            problems.append(f"candidate {candidate['position']}: the thresholds do not follow from the counts")
    return problems


def recount(result: dict, export: dict) -> list[str]:
    """Count the exported ballots again, under the rule set written in the result."""
    problems = []
    if export.get("format") != EXPORT_FORMAT or export.get("round") != result["round"]["id"]:
        return ["the ballot export is not the export of this round"]
    lines = export["ballots"]
    digest = hashlib.sha256("".join(line + "\n" for line in sorted(lines)).encode()).hexdigest()
    if digest != result["ballots_digest"]:
        problems.append("the ballot export does not match the digest in the signed result")
    rules = result["rule_set"]
    size = len(result["candidates"])
    per = [[0, 0, 0, 0] for _ in range(size)]
    valid = 0
    for line in lines:
        marks, _, flaw_text = line.partition(" ")
        sheet_flaws = set() if flaw_text == "-" else set(flaw_text.split(","))
        if len(marks) != size:
            problems.append("a ballot in the export has the wrong number of marks")
            continue
        if sheet_flaws & {"not_issued", "crossed_out"}:
            continue
        if "extra_writing" in sheet_flaws and rules["extra_writing_policy"] == "void":
            continue
        if rules["invalid_mark_policy"] == "ballot" and ("0" in marks or "4" in marks):
            continue
        valid += 1
        for row, mark in enumerate(marks):
            per[row][{"1": 0, "2": 1, "3": 2}.get(mark, 3)] += 1
    if len(lines) != result["numbers"]["collected"] or valid != result["numbers"]["valid"]:
        problems.append("the recount gives other numbers of ballots collected or valid")
    for candidate, (high, trust, low, invalid) in zip(result["candidates"], per, strict=True):
        if [candidate["high"], candidate["trust"], candidate["low"], candidate["invalid"]] != [high, trust, low,
                                                                                                invalid]:
            problems.append(f"candidate {candidate['position']}: the recount differs")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Verify a signed TrustVote result.")
    parser.add_argument("result", type=Path)
    parser.add_argument("--public-key", required=True, help="the committee's public key: 64 hex digits, or a file")
    parser.add_argument("--ballots", type=Path, help="the counting board's sealed ballot export, to recount")
    args = parser.parse_args(argv)
    key_text = args.public_key
    if Path(key_text).is_file():
        key_text = Path(key_text).read_text().strip()
    try:
        public_key = bytes.fromhex(key_text)
        envelope = json.loads(args.result.read_text(encoding="utf-8"))
        result = envelope["result"]
        if result.get("format") != RESULT_FORMAT:
            raise ValueError(f"not a {RESULT_FORMAT} document")
    except (ValueError, KeyError, TypeError, OSError) as exc:
        print(f"FAILED: cannot read the result or the key: {exc}")
        return 2
    print(f"public key fingerprint: {hashlib.sha256(public_key).hexdigest()}")
    problems = check_signature(envelope, public_key)
    print("signature: " + ("FAILED" if problems else "ok"))
    arithmetic = check_arithmetic(result)
    print("arithmetic: " + ("FAILED" if arithmetic else "ok"))
    problems += arithmetic
    if args.ballots:
        counted = recount(result, json.loads(args.ballots.read_text(encoding="utf-8")))
        print("recount from the ballots: " + ("FAILED" if counted else "ok"))
        problems += counted
    for problem in problems:
        print(f"  - {problem}")
    print("RESULT VERIFIED" if not problems else "RESULT NOT VERIFIED")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
