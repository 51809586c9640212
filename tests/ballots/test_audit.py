"""The audit log: append-only by trigger, and every edit, deletion or reordering caught by `trustvote audit verify`."""

import datetime as dt

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


def _verify_cli(db_url, instance):
    result = CliRunner().invoke(main, ["audit", "verify"],
                                env={"TRUSTVOTE_DATABASE_URL": db_url, "TRUSTVOTE_INSTANCE": str(instance)})
    return result.exit_code, result.output


def _without_triggers(engine):
    """What an attacker with the database's admin rights does first."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_entry_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_entry_no_delete")
        else:
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")


def _verify_tampered(engine, db_url, instance, *statements) -> str:
    """Run `statements` with the triggers off, then `trustvote audit verify`, which must fail; returns what it
    said."""
    _without_triggers(engine)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    code, output = _verify_cli(db_url, instance)
    assert code == 1, output
    return output


def test_an_intact_chain_verifies(session, db_url, instance):
    _fill(session)
    verdict = audit.verify(session)
    assert verdict.ok and verdict.entries == 6
    session.commit()
    code, output = _verify_cli(db_url, instance)
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


def test_an_edited_entry_is_named(session, engine, db_url, instance):
    _fill(session)
    output = _verify_tampered(engine, db_url, instance,
                              "UPDATE audit_entry SET details = '{\"name\":\"Đảng ủy xã Khác\"}' WHERE seq = 3")
    assert "BROKEN at entry 3" in output


def test_an_edited_entry_whose_own_hash_was_recomputed_breaks_the_next_link(session, engine, db_url, instance):
    _fill(session)
    row = session.get(AuditEntry, 3)
    forged = entry_hash(seq=3, at=row.at, actor="kẻ giả mạo", action=row.action, subject=row.subject,
                        details=row.details, prev_hash=row.prev_hash)
    session.rollback()
    output = _verify_tampered(engine, db_url, instance,
                              f"UPDATE audit_entry SET actor = 'kẻ giả mạo', hash = '{forged}' WHERE seq = 3")
    # its MAC names it before the next link would: the MAC covers the hash, which the forger had to change
    assert "BROKEN at entry 3" in output


def test_a_deleted_entry_is_named(session, engine, db_url, instance):
    _fill(session)
    output = _verify_tampered(engine, db_url, instance, "DELETE FROM audit_entry WHERE seq = 3")
    assert "BROKEN at entry 3" in output and "missing" in output


def test_a_deleted_last_entry_shows_against_the_head(session, engine, db_url, instance):
    _fill(session)
    output = _verify_tampered(engine, db_url, instance, "DELETE FROM audit_entry WHERE seq = 6")
    assert "BROKEN at entry 6" in output


def test_reordered_entries_are_named(session, engine, db_url, instance):
    _fill(session)
    output = _verify_tampered(engine, db_url, instance, "UPDATE audit_entry SET seq = -1 WHERE seq = 3",
                              "UPDATE audit_entry SET seq = 3 WHERE seq = 4",
                              "UPDATE audit_entry SET seq = 4 WHERE seq = -1")
    assert "BROKEN at entry 3" in output


def test_a_changed_time_is_caught(session, engine, db_url, instance):
    _fill(session)
    output = _verify_tampered(engine, db_url, instance, "UPDATE audit_entry SET at = NULL WHERE seq = 5")
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


def _rewrite_chain_without_the_key(engine, change_seq: int, actor: str) -> None:
    """What a database holder does who knows the chain's format but not the audit key: change an entry, recompute
    its hash and every hash after it, and the head, keeping the MACs as they were (or dropping them)."""
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT seq, at, actor, action, subject, details, prev_hash, mac "
                                       "FROM audit_entry ORDER BY seq")).all()
        prev = audit.GENESIS
        for row in rows:
            who = actor if row.seq == change_seq else row.actor
            at = dt.datetime.fromisoformat(row.at) if isinstance(row.at, str) else row.at  # SQLite's text
            new_hash = entry_hash(seq=row.seq, at=at, actor=who, action=row.action, subject=row.subject,
                                  details=row.details, prev_hash=prev)
            connection.execute(text("UPDATE audit_entry SET actor = :actor, prev_hash = :prev, hash = :hash "
                                    "WHERE seq = :seq"), {"actor": who, "prev": prev, "hash": new_hash, "seq": row.seq})
            prev = new_hash
        connection.execute(text("UPDATE audit_head SET hash = :hash"), {"hash": prev})


def test_a_chain_rewritten_with_recomputed_hashes_is_caught_by_its_keyed_macs(session, engine, db_url, instance):
    _fill(session)
    _without_triggers(engine)
    _rewrite_chain_without_the_key(engine, 3, "kẻ giả mạo")
    # control: the hash chain alone is consistent again, which is why it needs the key
    assert audit.verify(session).ok
    code, output = _verify_cli(db_url, instance)
    assert code == 1 and "BROKEN at entry 3" in output and "MAC" in output


def test_macs_stripped_from_the_chain_are_caught(session, engine, db_url, instance):
    _fill(session)
    output = _verify_tampered(engine, db_url, instance, "UPDATE audit_entry SET mac = NULL",
                              "UPDATE audit_head SET mac = NULL")
    assert "BROKEN at entry 1" in output and "MAC" in output


def test_entries_written_before_the_instance_had_its_key_are_counted_not_refused(session, engine, db_url, tmp_path):
    from app.settings import init_instance

    _fill(session, 4)
    _without_triggers(engine)
    with engine.begin() as connection:  # as an older version wrote them: no audit key yet
        connection.exec_driver_sql("UPDATE audit_entry SET mac = NULL")
        connection.exec_driver_sql("UPDATE audit_head SET mac = NULL")
    upgraded = tmp_path / "upgraded"
    init_instance(upgraded, audit_since=4)
    code, output = _verify_cli(db_url, upgraded)
    assert code == 0 and "4 written before the audit key" in output
