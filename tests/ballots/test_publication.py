"""Publication in the domain: who publishes, who reads what and when, the dashboard, exports, bundles."""

import csv
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from openpyxl import load_workbook
from sqlalchemy import func, select

from ballots import authority, bundles, dashboard, exports, formats, publication, results, signing
from ballots.db import make_engine, make_sessionmaker
from ballots.errors import (
    AlreadyImported,
    BadArithmetic,
    BadSignature,
    Conflict,
    InvalidInput,
    NotInAudience,
    NotPublisher,
    TreeMismatch,
    UnknownKey,
)
from ballots.models import AuditEntry, ImportedResult
from tests.factories import build_world, make_round, sealed_round

KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def sealed(session, world):
    return sealed_round(session, world, KEY)


def test_only_the_board_publishes_when_the_rule_set_says_so_and_only_once(session, world, sealed):
    with pytest.raises(NotPublisher):
        publication.publish(session, sealed, account=world.accounts["organizer"])
    publication.publish(session, sealed, account=world.accounts["teller2"])
    assert sealed.state == "published"
    with pytest.raises(Conflict):
        publication.publish(session, sealed, account=world.accounts["teller"])


def test_organizers_publish_when_the_rule_set_names_them(session, world):
    round_ = sealed_round(session, world, KEY, publisher="organizer")
    with pytest.raises(NotPublisher):
        publication.publish(session, round_, account=world.accounts["teller"])
    publication.publish(session, round_, account=world.accounts["commune_organizer"])


def test_a_round_not_yet_sealed_cannot_be_published(session, world, sealed):
    draft = make_round(session, world, title="Vòng nháp").round
    with pytest.raises(Conflict):
        publication.publish(session, draft, account=world.accounts["teller"])


READERS = {"viewer": "all", "district_viewer": "all", "sibling_viewer": None, "organizer": None,
           "commune_organizer": None, "admin": None, "teller": "all", "teller2": "all"}


@pytest.mark.parametrize("who", sorted(READERS))
def test_nobody_reads_before_publication_and_only_the_audience_after(session, world, sealed, who):
    account = world.accounts[who]
    assert authority.reach_of_round(account, sealed) is None
    publication.publish(session, sealed, account=world.accounts["teller"])
    assert authority.reach_of_round(account, sealed) == READERS[who]


def test_a_rated_person_in_the_audience_reads_only_their_own_rows(session, world):
    from ballots import accounts

    round_ = sealed_round(session, world, KEY, audience=["committee", "candidate"], publish=True)
    rated = accounts.create_account(session, username="hung", display_name="Nguyễn Văn Hùng", password=world.password,
                                    person_code="CB-001", actor="test")
    reading = publication.read_result(session, round_, account=rated)
    assert reading.reach == authority.OWN_ROWS
    assert [c["name"] for c in reading.document["candidates"]] == ["Nguyễn Văn Hùng"]
    # the district is not in this round's audience
    with pytest.raises(NotInAudience):
        publication.read_result(session, round_, account=world.accounts["district_viewer"])


def test_every_reading_is_audited_with_who(session, world, sealed):
    publication.publish(session, sealed, account=world.accounts["teller"])
    publication.read_result(session, sealed, account=world.accounts["viewer"])
    publication.read_result(session, sealed, account=world.accounts["district_viewer"], what="download.xlsx")
    entries = session.execute(select(AuditEntry.actor, AuditEntry.action).where(
        AuditEntry.action.like("result.%"))).all()
    assert ("viewer", "result.view") in entries and ("district_viewer", "result.download.xlsx") in entries
    assert all(e.at is not None for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "result.view")))


def test_the_dashboard_shows_states_below_and_numbers_only_once_published_upward(session, world, sealed):
    rows = dashboard.rows(session, world.district, world.accounts["district_viewer"])
    by_committee = {(r.committee, r.round_id) for r in rows}
    assert ("Đảng ủy xã Hòa Lạc", None) in by_committee  # a sibling with no round yet: not started
    mine = next(r for r in rows if r.round_id == sealed.id)
    assert mine.phase == "sealed" and mine.collected is None and mine.quorum is True
    publication.publish(session, sealed, account=world.accounts["teller"])
    mine = next(r for r in dashboard.rows(session, world.district, world.accounts["district_viewer"])
                if r.round_id == sealed.id)
    # 4 low-trust counts: candidate 4 has 3 low of 4 collected (2*3 > 4, 3*3 >= 8, 3*3 > 8)
    assert (mine.phase, mine.issued, mine.collected, mine.crossed) == ("published", 5, 4, (1, 1, 1))
    organizer_view = dashboard.rows(session, world.district, world.accounts["organizer"])
    assert next(r for r in organizer_view if r.round_id == sealed.id).collected is None  # an organizer reads none
    assert dashboard.rows(session, world.province, world.accounts["organizer"])[0].committee == "Huyện ủy Đông Anh"


def test_dashboard_rows_sort_and_filter(session, world, sealed):
    rows = dashboard.rows(session, world.district, world.accounts["district_viewer"])
    assert [r.committee for r in dashboard.arrange(rows, sort="name")] == sorted(r.committee for r in rows)
    assert {r.phase for r in dashboard.arrange(rows, phase="sealed")} == {"sealed"}
    assert dashboard.arrange(rows, sort="nonsense") == dashboard.arrange(rows)


def test_the_excel_and_csv_exports_read_back_with_exact_vietnamese(session, world, sealed):
    publication.publish(session, sealed, account=world.accounts["teller"])
    doc = publication.read_result(session, sealed, account=world.accounts["viewer"]).document
    book = load_workbook(io.BytesIO(exports.result_workbook([doc])))
    sheet = book.worksheets[0]
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][0] == "Đảng ủy xã Yên Bình"
    header = next(index for index, row in enumerate(values) if row[0] == "STT")
    assert list(values[header][:3]) == ["STT", "Họ và tên", "Chức vụ"]
    first = values[header + 1]
    assert first[:4] == (1, "Nguyễn Văn Hùng", "Bí thư", 3) and first[4] == 0.75  # 3 high of 4 collected
    assert isinstance(first[3], int)
    text = exports.result_csv(doc)
    assert text.startswith("\ufeff".encode())
    # one table: a heading, then a row per candidate repeating the round (the README's dialect: ";", "," decimals)
    heading, *rows = csv.reader(io.StringIO(text.decode("utf-8-sig")), delimiter=";")
    assert all(len(row) == len(heading) for row in rows) and len(rows) == 4
    fourth = dict(zip(heading, rows[3], strict=True))
    assert fourth["Cấp ủy"] == "Đảng ủy xã Yên Bình" and fourth["Số phiếu thu về"] == "4"
    assert (fourth["Họ và tên"], fourth["Tín nhiệm thấp"], fourth["Tỷ lệ tín nhiệm thấp (%)"]) == (
        "Phạm Thị Hương", "3", "75,00")
    workbook = load_workbook(io.BytesIO(exports.dashboard_workbook(
        "Huyện ủy Đông Anh", dashboard.rows(session, world.district, world.accounts["district_viewer"]))))
    cells = [row for row in workbook.active.iter_rows(values_only=True)]
    assert cells[1][0] == "Cấp ủy" and any(row[0] == "Đảng ủy xã Yên Bình" and row[7] == 4 for row in cells[2:])


@pytest.fixture
def upper_session(sqlite_template, tmp_path):
    """A second instance (the province's server) with its own database and the same tree of committees."""
    import shutil

    path = tmp_path / "upper.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with make_sessionmaker(engine)() as other:
        world = build_world(other)
        other.commit()
        yield other, world
    engine.dispose()


def _imported(session):
    return session.scalar(select(func.count()).select_from(ImportedResult))


def test_a_bundle_exported_here_imports_on_the_upper_server(session, world, upper_session):
    round_ = sealed_round(session, world, KEY, publish=True)
    bundle = json.loads(json.dumps(bundles.export_bundle(session, round_, key=KEY, actor="teller")))
    other, upper_world = upper_session
    bundles.register_key(other, public_key=signing.public_bytes(KEY).hex(), label="Máy hội nghị Yên Bình",
                         committee=upper_world.district, actor="admin")
    found = bundles.import_bundle(other, bundle, account=upper_world.accounts["organizer"])
    assert found.committee.name == "Đảng ủy xã Yên Bình" and found.collected == 4
    rows = dashboard.rows(other, upper_world.district, upper_world.accounts["district_viewer"])
    row = next(r for r in rows if r.imported_id == found.id)
    assert (row.phase, row.collected, row.crossed) == ("published", 4, (1, 1, 1))
    with pytest.raises(AlreadyImported):
        bundles.import_bundle(other, bundle, account=upper_world.accounts["organizer"])


def _refused(other, upper_world, bundle, error):
    before = _imported(other)
    with pytest.raises(error):
        bundles.import_bundle(other, bundle, account=upper_world.accounts["organizer"])
    other.rollback()
    assert _imported(other) == before


def test_bundles_with_an_unknown_key_a_bad_signature_bad_arithmetic_or_a_foreign_committee_import_nothing(
        session, world, upper_session):
    round_ = sealed_round(session, world, KEY, publish=True)
    bundle = bundles.export_bundle(session, round_, key=KEY, actor="teller")
    other, upper_world = upper_session
    _refused(other, upper_world, bundle, UnknownKey)
    bundles.register_key(other, public_key=signing.public_bytes(KEY).hex(), label="Máy hội nghị",
                         committee=upper_world.sibling, actor="admin")
    other.commit()
    _refused(other, upper_world, bundle, TreeMismatch)  # the key reports for Hòa Lạc, not Yên Bình
    changed = json.loads(json.dumps(bundle))
    changed["result"]["result"]["candidates"][3]["low"] = 0
    _refused(other, upper_world, changed, BadSignature)
    moved = json.loads(json.dumps(bundle))
    moved["committee_path"][-1] = "Đảng ủy xã Hòa Lạc"
    _refused(other, upper_world, moved, BadSignature)  # the path is signed too
    for broken in ({}, {"format": "trustvote.bundle/1"}, {"format": "trustvote.bundle/1", "result": [],
                                                             "committee_path": "x"}):
        _refused(other, upper_world, broken, InvalidInput)


def test_a_resigned_bundle_whose_numbers_do_not_add_up_is_refused(session, world, upper_session):
    round_ = sealed_round(session, world, KEY, publish=True)
    bundle = json.loads(json.dumps(bundles.export_bundle(session, round_, key=KEY, actor="teller")))
    forger = Ed25519PrivateKey.generate()
    doc = bundle["result"]["result"]
    doc["candidates"][3]["low"] += 1  # now the counts do not add up to the valid ballots
    bundle["result"] = results.sign_document(forger, doc)
    body = {k: v for k, v in bundle.items() if k != "signature"}
    bundle["signature"] = signing.sign(forger, formats.canonical_json(body).encode())
    other, upper_world = upper_session
    bundles.register_key(other, public_key=signing.public_bytes(forger).hex(), label="Máy lạ",
                         committee=upper_world.province, actor="admin")
    other.commit()
    _refused(other, upper_world, bundle, BadArithmetic)


def test_a_key_is_registered_once_and_must_be_well_formed(session, world):
    with pytest.raises(InvalidInput):
        bundles.register_key(session, public_key="abc", label="x", committee=world.province, actor="admin")
    bundles.register_key(session, public_key="ab" * 32, label="Máy", committee=world.province, actor="admin")
    with pytest.raises(Conflict):
        bundles.register_key(session, public_key="AB" * 32, label="Máy 2", committee=world.province, actor="admin")
