"""The `trustvote` command: instance keys, schema, the demo province, refusing to start without keys."""

import os
import stat

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.settings import MissingKeys, Settings, UnusableKey
from ballots import demo
from ballots.models import Account, Committee, Conference, Grant, Membership, Person, Round, Token
from tests.factories import make_round


def run(args, instance, db_url):
    result = CliRunner().invoke(main, args, env={"TRUSTVOTE_INSTANCE": str(instance),
                                                 "TRUSTVOTE_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    return result.output


def test_init_creates_private_keys_and_keeps_them(tmp_path, db_url):
    instance = tmp_path / "fresh"
    run(["init"], instance, db_url)
    secret, signing = instance / "secret_key", instance / "signing_key.pem"
    for path in (secret, signing):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700
    before = secret.read_text(), signing.read_text()
    run(["init"], instance, db_url)
    assert (secret.read_text(), signing.read_text()) == before


def test_the_app_refuses_to_start_without_its_keys(tmp_path):
    with pytest.raises(MissingKeys, match="trustvote init"):
        Settings.from_env({"TRUSTVOTE_INSTANCE": str(tmp_path / "empty")})


def test_db_upgrade_reports_the_revision(tmp_path, db_url):
    assert "database at revision" in run(["db", "upgrade"], tmp_path, db_url)


def test_the_demo_province_loads_once_and_prints_its_logins(tmp_path, db_url, session):
    run(["init"], tmp_path, db_url)
    output = run(["demo", "--if-empty"], tmp_path, db_url)
    pdf = tmp_path / "demo-ballots.pdf"
    assert f"ballots of the round ready to vote (Đảng ủy xã Phú Lộc): {pdf}" in output
    assert pdf.read_bytes().startswith(b"%PDF") and stat.S_IMODE(os.stat(pdf).st_mode) == 0o600
    for login in demo.LOGINS:
        assert login.username in output and login.password in output
    again = run(["demo", "--if-empty"], tmp_path, db_url)
    assert "not loaded" in again

    committees = session.scalars(select(Committee)).all()
    assert 28 <= len(committees) <= 40

    def depth(committee):
        return 0 if committee.parent is None else 1 + depth(committee.parent)

    assert max(depth(c) for c in committees) >= 3  # province > district > commune > cell
    people_on_two = session.scalar(select(func.count()).select_from(
        select(Membership.person_id).group_by(Membership.person_id).having(func.count() >= 2).subquery()))
    assert people_on_two >= 1
    assert session.scalar(select(func.count()).select_from(Person).where(Person.full_name.like("%ễ%"))) >= 1
    draft = session.scalars(select(Round).where(Round.state == "draft")).one()
    assert draft.candidates and draft.board and draft.has_quorum
    ready = session.scalars(select(Round).where(Round.state == "issued")).one()
    assert session.scalar(select(func.count()).select_from(Token).where(Token.round_id == ready.id)) == ready.present
    closed = session.scalars(select(Round).where(Round.state == "closed")).one()
    assert session.scalar(select(func.count()).select_from(Token).where(Token.round_id == closed.id,
                                                                        Token.state == "cast")) == 14
    paper = tmp_path / "demo-paper-ballots.pdf"
    assert f"paper ballots of the round ready to count (Đảng ủy xã Thạch Bàn): {paper}" in output
    assert paper.read_bytes().startswith(b"%PDF") and stat.S_IMODE(os.stat(paper).st_mode) == 0o600
    published = session.scalars(select(Round).where(Round.state == "published")).one()
    assert published.conference.committee.name == "Đảng ủy thị trấn Tân Phú"
    assert session.scalar(select(func.count()).select_from(Conference)) == 4
    roles = set(session.scalars(select(Grant.role)))
    assert roles == {"organizer", "teller", "viewer"}
    assert session.scalar(select(func.count()).select_from(Account).where(Account.is_admin)) == 1


def test_ballots_issue_writes_a_private_pdf_with_a_progress_bar(tmp_path, db_url, session, world, instance):
    round_ = make_round(session, world, title="Vòng", convened=10, present=10).round
    out = tmp_path / "phieu.pdf"
    output = run(["ballots", "issue", str(round_.id), "--count", "7", "--out", str(out), "--paper", "A5"],
                 instance, db_url)
    assert "printing" in output and "7 ballots issued" in output
    assert out.read_bytes().startswith(b"%PDF") and stat.S_IMODE(os.stat(out).st_mode) == 0o600
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Token).where(Token.round_id == round_.id)) == 7


def test_a_refused_issue_writes_no_file_and_no_token(tmp_path, db_url, session, world, instance):
    round_ = make_round(session, world, title="Vòng", convened=10, present=5).round
    out = tmp_path / "phieu.pdf"
    result = CliRunner().invoke(main, ["ballots", "issue", str(round_.id), "--count", "5", "--out", str(out)],
                                env={"TRUSTVOTE_INSTANCE": str(instance), "TRUSTVOTE_DATABASE_URL": db_url})
    assert result.exit_code != 0 and "two thirds" in result.output
    assert not out.exists()
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Token)) == 0


def test_key_show_prints_the_public_key_and_its_fingerprint(tmp_path, db_url):
    from app.settings import SIGNING_KEY_FILE
    from ballots import signing

    run(["init"], tmp_path, db_url)
    key = signing.load_private_key(tmp_path / SIGNING_KEY_FILE)
    output = run(["key", "show"], tmp_path, db_url)
    assert signing.public_bytes(key).hex() in output and signing.fingerprint(key) in output


def test_the_app_refuses_to_start_with_a_signing_key_it_cannot_use(tmp_path):
    instance = tmp_path / "instance"
    run(["init"], instance, f"sqlite:///{tmp_path / 'db.sqlite'}")
    (instance / "signing_key.pem").write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    with pytest.raises(UnusableKey, match="signing key"):
        Settings.from_env({"TRUSTVOTE_INSTANCE": str(instance)})


def test_the_app_refuses_to_start_without_its_signing_key(tmp_path):
    instance = tmp_path / "instance"
    run(["init"], instance, f"sqlite:///{tmp_path / 'db.sqlite'}")
    (instance / "signing_key.pem").unlink()
    with pytest.raises(MissingKeys, match="trustvote init"):
        Settings.from_env({"TRUSTVOTE_INSTANCE": str(instance)})
