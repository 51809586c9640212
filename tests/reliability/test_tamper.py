"""After the seal: the database refuses changes, and a change made anyway (triggers removed by someone with the
database's admin rights) is caught by `trustvote audit verify`, whichever row was touched."""

import json

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.cli import main
from app.settings import SIGNING_KEY_FILE
from ballots import formats, signing
from ballots.models import Result
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


def _tamper(engine, *statements, **params):
    """What an attacker with the database's admin rights does: switch the triggers off, then write."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
            for name in list(names):
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        else:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in statements:
            connection.execute(text(statement), params)


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
