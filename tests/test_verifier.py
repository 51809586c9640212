"""The standalone verifier: no imports from the app; it accepts a true result and refuses each kind of forgery."""

import ast
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ballots import results, rules, signing
from ballots.tally import CROSSED_OUT, Sheet, tally

VERIFIER = Path(__file__).resolve().parent.parent / "verifier" / "trustvote_verify.py"
CANDIDATES = [("Nguyễn Văn Hùng", "Bí thư"), ("Trần Thị Lan", "Phó Bí thư")]


def test_the_verifier_imports_nothing_from_trustvote():
    tree = ast.parse(VERIFIER.read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"app", "ballots", "tests"}


@pytest.fixture
def signed(tmp_path):
    rule_set = rules.preset("qd96-2023")
    sheets = [Sheet(b"\x03\x01")] * 17 + [Sheet(b"\x01\x02")] * 15 + [Sheet(b"\x02\x02", frozenset({CROSSED_OUT}))]
    counted = tally(sheets, candidates=2, rule_set=rule_set, convened=35, present=33, issued=33)
    doc = results.document(
        round_info={"id": 7, "title": "Lấy phiếu tín nhiệm BCH", "committee": "Đảng ủy xã Yên Bình"},
        rule_set=rule_set, tally=counted, candidates=CANDIDATES, token_commitment="ab" * 32,
        digest=results.ballots_digest(sheets), audit_head=(42, "cd" * 32), approved_by=["teller2", "teller"])
    key = Ed25519PrivateKey.generate()
    files = {"key": key, "public": signing.public_bytes(key).hex(), "result": tmp_path / "result.json",
             "ballots": tmp_path / "ballots.json"}
    files["result"].write_text(json.dumps(results.sign_document(key, doc), ensure_ascii=False), encoding="utf-8")
    files["ballots"].write_text(json.dumps(results.ballot_export(sheets, round_id=7)), encoding="utf-8")
    return files


def verify(signed, *extra, public=None):
    command = [sys.executable, str(VERIFIER), str(signed["result"]), "--public-key", public or signed["public"],
               *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    return done.returncode, done.stdout


def rewrite(signed, change, resign_with=None):
    envelope = json.loads(signed["result"].read_text(encoding="utf-8"))
    change(envelope["result"])
    if resign_with is not None:
        envelope = results.sign_document(resign_with, envelope["result"])
    signed["result"].write_text(json.dumps(envelope, ensure_ascii=False), encoding="utf-8")


def test_a_true_result_verifies_with_its_recount(signed):
    code, output = verify(signed, "--ballots", str(signed["ballots"]))
    assert code == 0 and "RESULT VERIFIED" in output and "recount from the ballots: ok" in output


def test_a_changed_count_breaks_the_signature(signed):
    rewrite(signed, lambda r: r["candidates"][0].update(low=16))
    code, output = verify(signed)
    assert code == 1 and "signature: FAILED" in output


def test_a_result_re_signed_with_another_key_is_refused(signed):
    rewrite(signed, lambda r: r["candidates"][0].update(low=10, high=22), resign_with=Ed25519PrivateKey.generate())
    code, output = verify(signed)
    assert code == 1 and "another public key" in output


def test_a_signed_result_with_wrong_arithmetic_is_refused(signed):
    # 17 low of 33 is more than half: a signer that said otherwise is caught by the arithmetic
    rewrite(signed, lambda r: r["candidates"][0]["flags"].update(more_than_half=False), resign_with=signed["key"])
    code, output = verify(signed)
    assert code == 1 and "signature: ok" in output and "thresholds do not follow" in output


def test_a_changed_ballot_export_fails_the_digest_and_the_recount(signed):
    export = json.loads(signed["ballots"].read_text())
    export["ballots"][0] = "11 -"
    signed["ballots"].write_text(json.dumps(export))
    code, output = verify(signed, "--ballots", str(signed["ballots"]))
    assert code == 1 and "does not match the digest" in output and "recount differs" in output


def test_an_unreadable_result_is_refused(signed, tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    done = subprocess.run([sys.executable, str(VERIFIER), str(tmp_path / "bad.json"), "--public-key",
                           signed["public"]], capture_output=True, text=True)
    assert done.returncode == 2


def test_the_document_is_canonical_and_stable(signed):
    envelope = json.loads(signed["result"].read_text(encoding="utf-8"))
    again = copy.deepcopy(envelope["result"])
    assert results.sign_document(signed["key"], again)["signature"] == envelope["signature"]


def test_duplicates_that_are_not_the_sum_of_their_kinds_are_refused(signed):
    # a signer that counted a teller's re-scans among the duplicates (3) beside 1 sheet used on a tablet is caught
    rewrite(signed, lambda r: r["set_aside"].update(duplicates=3, used_on_tablet=1, other_sheet=0),
            resign_with=signed["key"])
    code, output = verify(signed)
    assert code == 1 and "signature: ok" in output and "duplicates set aside" in output
