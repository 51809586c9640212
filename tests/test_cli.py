"""The `trustvote` command: instance keys, schema, the demo province, refusing to start without keys."""

import datetime as dt
import os
import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app.cli import main
from app.settings import MissingKeys, Settings, UnusableKey
from ballots import demo
from ballots.models import Account, Candidate, Committee, Conference, Grant, Membership, Person, Round, Token
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

    # today's tree: the province, 60 to 120 communes, wards and a special zone directly below it, a few agencies,
    # chi bộ under some communes (and under a ward's đảng bộ bộ phận)
    province = session.scalars(select(Committee).where(Committee.parent_id.is_(None))).one()
    assert province.name == "Tỉnh ủy Sơn Lâm"
    below = [c for c in province.children if c.closed_on is None]
    communes = [c for c in below if c.level in ("Đảng ủy xã", "Đảng ủy phường", "Đảng ủy đặc khu")]
    assert 60 <= len(communes) <= 120 and {c.level for c in communes} == {"Đảng ủy xã", "Đảng ủy phường",
                                                                          "Đảng ủy đặc khu"}
    assert 3 <= sum(c.level == "Đảng ủy trực thuộc" for c in below) <= 8
    assert all(c.formed_on == dt.date(2025, 7, 1) for c in communes)

    def depth(committee):
        return 0 if committee.parent is None else 1 + depth(committee.parent)

    assert max(depth(c) for c in session.scalars(select(Committee))) == 3  # ward > đảng bộ bộ phận > chi bộ
    # the term before, as history: the districts ended on 30 June 2025, their communes merged into the new ones
    districts = [c for c in province.children if c.closed_on is not None]
    assert len(districts) >= 6 and {c.closed_on for c in districts} == {dt.date(2025, 6, 30)}
    tan_phu = next(c for c in communes if c.name == "Đảng ủy xã Tân Phú")
    assert [c.name for c in tan_phu.sources] == ["Đảng ủy thị trấn Tân Phú", "Đảng ủy xã Tân An"]
    agency = next(c for c in below if c.name == "Đảng ủy các cơ quan Đảng tỉnh")
    assert agency.name_on(dt.date(2023, 3, 14)) == "Đảng ủy Khối các cơ quan tỉnh"
    # the person the README follows: on the old district and the new commune, rated in both terms, published
    followed = session.scalars(select(Person).where(Person.full_name == demo.FOLLOWED)).one()
    rated = session.execute(select(Conference.term, Committee.name).select_from(Candidate)
                            .join(Round, Round.id == Candidate.round_id).join(Conference)
                            .join(Committee, Committee.id == Conference.committee_id)
                            .where(Candidate.person_id == followed.id, Round.state == "published")).all()
    assert set(rated) >= {("2020-2025", "Huyện ủy Tân Phú"), ("2025-2030", "Đảng ủy xã Tân Phú")}
    # the campaign of 2027: every state on the province's dashboard
    states = set(session.scalars(select(Round.state).join(Conference).where(Conference.term == "2025-2030")))
    assert states == {"draft", "issued", "open", "closed", "counted", "sealed", "published"}
    people_on_two = session.scalar(select(func.count()).select_from(
        select(Membership.person_id).group_by(Membership.person_id).having(func.count() >= 2).subquery()))
    assert people_on_two >= 10
    assert session.scalar(select(func.count()).select_from(Person).where(Person.full_name.like("%ễ%"))) >= 1

    def round_of(name):
        return session.scalars(select(Round).join(Conference).join(Committee).where(
            Committee.name == name, Committee.closed_on.is_(None))).one()

    draft = round_of(demo.CONFERENCE_COMMUNE)
    assert draft.state == "draft" and draft.candidates and draft.board and draft.has_quorum
    ready = round_of(demo.READY_COMMUNE)
    assert ready.state == "issued"
    assert session.scalar(select(func.count()).select_from(Token).where(Token.round_id == ready.id)) == ready.present
    closed = round_of(demo.COUNTING_COMMUNE)
    assert closed.state == "closed"
    assert session.scalar(select(func.count()).select_from(Token).where(Token.round_id == closed.id,
                                                                        Token.state == "cast")) == 14
    paper = tmp_path / "demo-paper-ballots.pdf"
    assert f"paper ballots of the round ready to count (Đảng ủy xã Thạch Bàn): {paper}" in output
    assert paper.read_bytes().startswith(b"%PDF") and stat.S_IMODE(os.stat(paper).st_mode) == 0o600
    _the_marked_paper_ballots_count_to_the_printed_answer(session, tmp_path, closed.id, paper)
    # the README's table says who sits on each walkthrough board: it is true
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| teller |"))
    claimed = re.findall(r"(Tân Hòa|Phú Lộc|Thạch Bàn|Tân Phú) \(`(kiemphieu\d)`, `(kiemphieu\d)`\)", row)
    assert len(claimed) == 4
    for commune, *tellers in claimed:
        board = {m.account.username for m in round_of(f"Đảng ủy xã {commune}").board}
        assert board == set(tellers), (commune, board)
    assert round_of(demo.PUBLISHED_COMMUNE).state == "published"
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


def _the_marked_paper_ballots_count_to_the_printed_answer(session, instance, round_id, paper):
    """The demo's paper ballots: a page for the tester (each sheet's digits, the result to expect), then the six
    sheets with the pen marks drawn on them. Keyed in as the page says by the two tellers the README names, they
    count to exactly the result the page prints."""
    from app.settings import AUDIT_KEY_FILE, load_audit_key
    from ballots import counting, paper_entry
    from ballots.db import make_sessionmaker
    from ballots.models import Round
    from ballots.tally import CROSSED_OUT
    from tests import pdfs

    # the demo's instance audit key authenticates the box's record, as the app's would
    key, _since = load_audit_key(instance / AUDIT_KEY_FILE)
    session = make_sessionmaker(session.get_bind(), audit_key=key)()
    round_ = session.get(Round, round_id)

    answer = pdfs.page_text(paper, 1)
    assert "KHÔNG PHẢI PHIẾU" in answer and pdfs.page_count(paper) == 1 + 6
    sheets = re.findall(r"Phiếu (\d): (\d+)( — tên ở dòng)?", answer)
    assert len(sheets) == 6 and all(len(marks) == len(round_.candidates) for _n, marks, _c in sheets)
    codes = [texts[0] for texts in pdfs.qr_texts(paper)[1:]]  # the QR of each sheet, after the answer page
    tellers = [session.scalars(select(Account).where(Account.username == name)).one()
               for name in ("kiemphieu1", "kiemphieu3")]
    assert {m.account_id for m in round_.board} == {t.id for t in tellers}  # the README's board
    for teller in tellers:
        for code, (_number, marks, crossed) in zip(codes, sheets):
            # the QR's whole text, as a scanner types it
            paper_entry.enter_sheet(session, round_, teller=teller, code=code, marks=marks,
                                    flaws=[CROSSED_OUT] if crossed else [])
    counted = counting.count_round(session, round_, account=tellers[0])
    numbers = re.search(r"Phát ra (\d+) · thu về (\d+) · hợp lệ (\d+) · không hợp lệ (\d+)", answer)
    assert (counted.issued, counted.collected, counted.valid, counted.invalid) == tuple(map(int, numbers.groups()))
    rows = re.findall(r"^\s*(\d+)\s+\S.*?\s+(\d+)\s+(\d+)\s+(\d+)\s*$", pdfs.page_text(paper, 1, layout=True),
                      re.MULTILINE)
    assert [(c.high, c.trust, c.low) for c in counted.candidates] == [tuple(map(int, r[1:])) for r in rows]
    assert counted.invalid_reasons["bad_marks"] == 1 and counted.invalid_reasons["crossed_out"] == 1
    session.rollback()
    session.close()
