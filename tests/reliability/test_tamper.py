"""After the seal: the database refuses changes, and a change made anyway (triggers removed by someone with the
database's admin rights) is caught by `trustvote audit verify`, whichever row was touched."""

import datetime as dt
import json

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.cli import main
from app.settings import AUDIT_KEY_FILE, SIGNING_KEY_FILE, load_audit_key
from ballots import accounts, audit, committees, formats, sealing, signing
from tests.reliability.insider import as_insider
from ballots.models import AuditEntry, AuditHead, Result
from tests.conftest import fresh
from tests.factories import TELLERS, make_round


@pytest.fixture
def sealed(session, world, instance):
    """A round of 4 candidates: 3 tablet ballots and 2 paper sheets keyed twice, counted, approved, sealed."""
    key = signing.load_private_key(instance / SIGNING_KEY_FILE)
    round_ = make_round(session, world, until="sealed", board=TELLERS, issue=6, key=key,
                        tablet=[b"\x01\x01\x03\x02", b"\x01\x02\x03\x02", b"\x02\x03\x03\x01"],
                        paper=[(3, "1231"), (4, "3333")]).round
    return round_, key


def _verify(db_url, instance):
    outcome = CliRunner().invoke(main, ["audit", "verify"],
                                 env={"TRUSTVOTE_DATABASE_URL": db_url, "TRUSTVOTE_INSTANCE": str(instance)})
    return outcome.exit_code, outcome.output


_tamper = as_insider  # what an attacker with the database's admin rights does: triggers off, then write


def test_a_sealed_round_verifies(sealed, db_url, instance):
    code, output = _verify(db_url, instance)
    assert code == 0 and "sealed results intact: 1" in output


@pytest.mark.parametrize("statement", [
    "UPDATE ballot SET marks = :marks",
    "DELETE FROM ballot",
    "INSERT INTO ballot (id, round_id, marks) VALUES (:id, :round, :marks)",
    "UPDATE token SET state = 'issued' WHERE state = 'cast'",
    "UPDATE paper_entry SET marks = :marks",
    "DELETE FROM approval",
    "UPDATE round SET state = 'counted'",
    "UPDATE round SET title = 'Vòng khác'",
    "UPDATE result SET document = replace(document, '\"low\":', '\"trust\":')",
    "DELETE FROM result",
])
def test_the_database_refuses_a_change_to_a_sealed_round(sealed, engine, statement):
    round_, _key = sealed
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(text(statement), {"marks": b"\x03\x03\x03\x03", "id": b"\x00" * 16, "round": round_.id})


@pytest.mark.parametrize("statement, named", [
    ("UPDATE ballot SET marks = :marks WHERE id = (SELECT id FROM ballot ORDER BY id LIMIT 1)", "ballots_digest"),
    ("DELETE FROM ballot WHERE id = (SELECT id FROM ballot ORDER BY id LIMIT 1)", "numbers"),
    ("INSERT INTO ballot (id, round_id, marks) VALUES (:id, :round, :marks)", "numbers"),
    ("UPDATE paper_entry SET marks = :marks", "ballots_digest"),
    ("UPDATE approval SET account_id = (SELECT id FROM account WHERE username = 'viewer') "
     "WHERE account_id = (SELECT id FROM account WHERE username = 'teller')", "approved_by"),
    ("DELETE FROM approval WHERE account_id = (SELECT id FROM account WHERE username = 'teller')", "approved_by"),
    ("UPDATE round SET present = 9", "numbers"),
    ("UPDATE round SET state = 'counted'", "no longer sealed"),
    ("DELETE FROM result", "result is missing"),
])
def test_tampering_with_rows_after_the_seal_is_caught(sealed, engine, db_url, instance, statement, named):
    round_, _key = sealed
    _tamper(engine, statement, marks=b"\x03\x03\x03\x03", id=b"\x00" * 16, round=round_.id)
    code, output = _verify(db_url, instance)
    assert code == 1 and named in output, output


def _rewrite_result(engine, round_id, document: dict, key):
    text_ = formats.canonical_json(document)
    _tamper(engine, "UPDATE result SET document = :doc, signature = :sig, public_key = :pub WHERE round_id = :round",
            doc=text_, sig=signing.sign(key, text_.encode()), pub=signing.public_bytes(key).hex(), round=round_id)


def test_a_result_edited_and_resigned_with_the_instance_key_is_caught(sealed, session, engine, db_url, instance):
    round_, key = sealed
    document = json.loads(session.get(Result, round_.id).document)
    document["candidates"][0]["low"] += 1
    _rewrite_result(engine, round_.id, document, key)
    code, output = _verify(db_url, instance)
    assert code == 1 and "not the one the audit log recorded" in output and "candidates" in output


def test_a_result_resigned_with_another_key_is_caught(sealed, session, engine, db_url, instance):
    round_, _key = sealed
    document = json.loads(session.get(Result, round_.id).document)
    _rewrite_result(engine, round_.id, document, Ed25519PrivateKey.generate())
    code, output = _verify(db_url, instance)
    assert code == 1 and "another key" in output


def test_a_result_whose_signature_was_altered_is_caught(sealed, engine, db_url, instance):
    round_, _key = sealed
    _tamper(engine, "UPDATE result SET signature = :sig", sig=signing.sign(Ed25519PrivateKey.generate(), b"x"))
    code, output = _verify(db_url, instance)
    assert code == 1 and "signature does not match" in output


def test_an_edited_audit_entry_of_the_count_is_caught(sealed, engine, db_url, instance):
    _tamper(engine, "UPDATE audit_entry SET details = replace(details, '3333', '1111') WHERE action = 'paper.enter'")
    code, output = _verify(db_url, instance)
    assert code == 1 and "audit chain BROKEN" in output


def test_who_publishes_cannot_change_after_the_seal(sealed, engine):
    with pytest.raises(DBAPIError), engine.begin() as connection:
        connection.execute(text("UPDATE round SET publisher = 'organizer'"))


# --- the audit chain and the sealed results' cross-check (issue 11) -------------------------------------------


def _head(session) -> dict:
    """The audit head row as it stands (a backup of the database keeps it: seq, hash and its MAC)."""
    head = fresh(session).get(AuditHead, 1)
    return {"seq": head.seq, "hash": head.hash, "mac": head.mac}


def _counted_then_sealed(session, world, key):
    """The fixture's round, counted; then approved by both tellers and sealed. Returns the round and the audit
    head as a backup taken while it was counted would hold it."""
    built = make_round(session, world, until="counted", board=TELLERS, issue=6,
                       tablet=[b"\x01\x01\x03\x02", b"\x01\x02\x03\x02", b"\x02\x03\x03\x01"],
                       paper=[(3, "1231"), (4, "3333")])
    before_the_seal = _head(session)
    for teller in built.board:
        if sealing.approve(session, built.round, account=teller, key=key):
            break
    session.commit()
    return built.round, before_the_seal


def test_a_result_whose_audit_head_the_chain_no_longer_holds_is_named(session, world, engine, db_url, instance):
    """An insider with a backup from before the seal cuts the chain back to it (the approvals and the seal's entries
    deleted, the old head and its genuine MAC restored): the chain alone is consistent and authenticated again,
    but the sealed result names a head the chain no longer holds."""
    key = signing.load_private_key(instance / SIGNING_KEY_FILE)
    round_, backup = _counted_then_sealed(session, world, key)
    named = json.loads(fresh(session).get(Result, round_.id).document)["audit_head"]
    assert named["seq"] > backup["seq"]
    _tamper(engine, "DELETE FROM audit_entry WHERE seq > :seq",
            "UPDATE audit_head SET seq = :seq, hash = :hash, mac = :mac", **backup)
    audit_key, since = load_audit_key(instance / AUDIT_KEY_FILE)
    assert audit.verify(fresh(session), audit_key, since).ok  # control: only the cross-check can see it
    code, output = _verify(db_url, instance)
    assert code == 1 and "audit chain intact" in output, output
    assert f"round {round_.id}: the audit log no longer holds the entry the result names as its head" in output
    assert "not the one the audit log recorded at its seal" in output


def test_an_entry_deleted_with_every_hash_and_the_head_recomputed_is_caught(sealed, session, engine, db_url,
                                                                              instance):
    """The issue's attack: the second approval's entry deleted, the entries after it renumbered and every hash and
    the head recomputed (as anyone can, without the audit key)."""
    rows = fresh(session).execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    gone = [r.seq for r in rows if r.action == "count.approve"][-1]
    statements, params, prev, seq = ["DELETE FROM audit_entry WHERE seq >= :gone"], {"gone": gone}, audit.GENESIS, 0
    for row in rows:
        if row.seq == gone:
            continue
        seq += 1
        digest = audit.entry_hash(seq=seq, at=row.at, actor=row.actor, action=row.action, subject=row.subject,
                                  details=row.details, prev_hash=prev)
        if row.seq > gone:
            columns = {"seq": seq, "at": row.at, "actor": row.actor, "action": row.action, "subject": row.subject,
                       "details": row.details, "prev_hash": prev, "hash": digest, "mac": row.mac}
            statements.append(f"INSERT INTO audit_entry ({', '.join(columns)}) "
                              f"VALUES ({', '.join(f':{name}{seq}' for name in columns)})")
            params |= {f"{name}{seq}": value for name, value in columns.items()}
        prev = digest
    statements.append("UPDATE audit_head SET seq = :head_seq, hash = :head_hash")
    _tamper(engine, *statements, **params, head_seq=seq, head_hash=prev)
    assert audit.verify(fresh(session)).ok  # control: the hash chain alone is consistent again
    code, output = _verify(db_url, instance)
    assert code == 1 and f"audit chain BROKEN at entry {gone}" in output and "MAC" in output, output


def test_a_rename_after_the_seal_is_not_an_alarm(sealed, session, world, db_url, instance):
    """A committee renamed (from a date after the round), a candidate renamed, a teller renamed: the sealed result
    keeps the names it was sealed with, and `trustvote audit verify` recomputes counts and digests only."""
    round_, _key = sealed
    session = fresh(session)
    commune, organizer = world.commune, world.accounts["organizer"]
    committees.update_committee(session, commune, name="Đảng ủy xã Yên Bình Mới", level=commune.level,
                                parent=commune.parent, actor="organizer", on=dt.date(2027, 1, 1))
    seat = next(s for s in commune.memberships if s.person.full_name == "Nguyễn Văn Hùng")
    committees.update_member(session, seat, full_name="Nguyễn Văn Hùng Anh", post=seat.post, editor=organizer,
                             actor="organizer")
    world.accounts["teller"].display_name = "Tổ trưởng kiểm phiếu"  # no audit entry needed: a name, not a count
    session.commit()
    document = json.loads(fresh(session).get(Result, round_.id).document)
    assert document["round"]["committee"] == "Đảng ủy xã Yên Bình" and "teller" in document["round"]["board"]
    code, output = _verify(db_url, instance)
    assert code == 0 and "sealed results intact: 1" in output, output


def test_cutting_the_chain_back_to_a_head_from_a_backup_after_the_last_seal_is_caught(sealed, session, world, engine,
                                                                                      db_url, instance):
    """An insider with a backup taken after the last seal cuts off what was audited since (here a role granted and
    its audit entry) and restores the backup's head with its genuine MAC: the tail of the chain is gone."""
    backup = _head(session)
    accounts.grant_role(fresh(session), account=world.accounts["viewer"], committee=world.province, role="viewer",
                        actor="admin")
    session.commit()
    assert _verify(db_url, instance)[0] == 0
    _tamper(engine, "DELETE FROM audit_entry WHERE seq > :seq",
            "UPDATE audit_head SET seq = :seq, hash = :hash, mac = :mac", **backup)
    code, output = _verify(db_url, instance)
    assert code == 1, f"the audit log lost its last entries (the grant) and `audit verify` says: {output}"
