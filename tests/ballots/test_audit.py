"""The audit log: append-only by trigger, and every edit, deletion or reordering caught by `trustvote audit verify`."""

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.cli import main
from ballots import audit
from ballots.audit import entry_hash
from ballots.models import AuditEntry


def _fill(session, count=6):
    for number in range(count):
        audit.record(session, actor="tochuc", action="committee.update", subject=f"committee:{number}",
                     details={"name": f"Đảng ủy xã Số {number}"})
    session.commit()


def _verify_cli(db_url):
    result = CliRunner().invoke(main, ["audit", "verify"], env={"TRUSTVOTE_DATABASE_URL": db_url})
    return result.exit_code, result.output


def _without_triggers(engine):
    """What an attacker with the database's admin rights does first."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_entry_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_entry_no_delete")
        else:
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")


def _verify_tampered(engine, db_url, *statements) -> str:
    """Run `statements` with the triggers off, then `trustvote audit verify`, which must fail; returns what it
    said."""
    _without_triggers(engine)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    code, output = _verify_cli(db_url)
    assert code == 1, output
    return output


def test_an_intact_chain_verifies(session, db_url):
    _fill(session)
    verdict = audit.verify(session)
    assert verdict.ok and verdict.entries == 6
    session.commit()
    code, output = _verify_cli(db_url)
    assert code == 0 and "6 entries" in output


def test_each_entry_carries_the_hash_of_the_one_before(session):
    _fill(session, 3)
    rows = session.execute(text("SELECT seq, prev_hash, hash FROM audit_entry ORDER BY seq")).all()
    assert rows[0].prev_hash == audit.GENESIS
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash


@pytest.mark.parametrize("statement", ["UPDATE audit_entry SET actor = 'x' WHERE seq = 2",
                                       "DELETE FROM audit_entry WHERE seq = 2"])
def test_the_database_refuses_to_change_or_delete_an_entry(session, engine, statement):
    _fill(session, 3)
    with pytest.raises(DBAPIError, match="append-only"):
        with engine.begin() as connection:
            connection.execute(text(statement))


def test_an_edited_entry_is_named(session, engine, db_url):
    _fill(session)
    output = _verify_tampered(engine, db_url,
                              "UPDATE audit_entry SET details = '{\"name\":\"Đảng ủy xã Khác\"}' WHERE seq = 3")
    assert "BROKEN at entry 3" in output


def test_an_edited_entry_whose_own_hash_was_recomputed_breaks_the_next_link(session, engine, db_url):
    _fill(session)
    row = session.get(AuditEntry, 3)
    forged = entry_hash(seq=3, at=row.at, actor="kẻ giả mạo", action=row.action, subject=row.subject,
                        details=row.details, prev_hash=row.prev_hash)
    session.rollback()
    output = _verify_tampered(engine, db_url,
                              f"UPDATE audit_entry SET actor = 'kẻ giả mạo', hash = '{forged}' WHERE seq = 3")
    assert "BROKEN at entry 4" in output


def test_a_deleted_entry_is_named(session, engine, db_url):
    _fill(session)
    output = _verify_tampered(engine, db_url, "DELETE FROM audit_entry WHERE seq = 3")
    assert "BROKEN at entry 3" in output and "missing" in output


def test_a_deleted_last_entry_shows_against_the_head(session, engine, db_url):
    _fill(session)
    output = _verify_tampered(engine, db_url, "DELETE FROM audit_entry WHERE seq = 6")
    assert "BROKEN at entry 6" in output


def test_reordered_entries_are_named(session, engine, db_url):
    _fill(session)
    output = _verify_tampered(engine, db_url, "UPDATE audit_entry SET seq = -1 WHERE seq = 3",
                              "UPDATE audit_entry SET seq = 3 WHERE seq = 4",
                              "UPDATE audit_entry SET seq = 4 WHERE seq = -1")
    assert "BROKEN at entry 3" in output


def test_a_changed_time_is_caught(session, engine, db_url):
    _fill(session)
    output = _verify_tampered(engine, db_url, "UPDATE audit_entry SET at = NULL WHERE seq = 5")
    assert "BROKEN at entry 5" in output


def test_ballot_events_carry_no_time(session):
    entry = audit.record(session, actor="kiosk", action="ballot.cast", subject="round:1", timed=False)
    assert entry.at is None
    assert audit.verify(session).ok


def test_appends_after_a_commit_continue_the_chain(session):
    _fill(session, 2)
    audit.record(session, actor="tochuc", action="round.create", subject="round:1")
    session.commit()
    assert audit.verify(session).entries == 3
