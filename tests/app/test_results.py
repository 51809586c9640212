"""Published results on the web: publishing, the result page and its downloads, the dashboard, bundles between
two instances, the administrator's key register."""

import csv
import io
import json
import shutil

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app import create_app
from app.settings import SIGNING_KEY_FILE, Settings, init_instance
from ballots import signing
from ballots.db import make_engine, make_sessionmaker
from ballots.models import AuditEntry, ImportedResult, Round, TrustedKey
from tests.conftest import Browserish, fresh
from tests.factories import build_world, sealed_round


@pytest.fixture
def key(instance):
    return signing.load_private_key(instance / SIGNING_KEY_FILE)


@pytest.fixture
def sealed(session, world, key):
    return sealed_round(session, world, key)


def test_the_board_publishes_from_the_count_page_and_the_audience_then_reads(login_as, session, sealed):
    viewer = login_as("viewer")
    assert viewer.get(f"/results/rounds/{sealed.id}").status_code == 403
    response = login_as("teller").submit(f"/count/rounds/{sealed.id}", f"/results/rounds/{sealed.id}/publish")
    assert response.status_code == 303
    assert fresh(session).get(Round, sealed.id).state == "published"
    page = viewer.get(f"/results/rounds/{sealed.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Phạm Thị Hương" in text and "75,00" in text  # 3 low of 4 collected
    assert "<svg" in text and "Trên 1/2 tín nhiệm thấp" in text
    assert "result.view" in fresh(session).scalars(select(AuditEntry.action).where(
        AuditEntry.actor == "viewer")).all()


def test_an_organizer_cannot_publish_what_the_board_publishes(login_as, session, sealed):
    response = login_as("commune_organizer").submit("/", f"/results/rounds/{sealed.id}/publish")
    assert response.status_code == 403 and fresh(session).get(Round, sealed.id).state == "sealed"


def test_the_downloads_read_back_with_exact_vietnamese(login_as, session, world, key):
    round_ = sealed_round(session, world, key, publish=True)
    reader = login_as("district_viewer")
    xlsx = reader.get(f"/results/rounds/{round_.id}/xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["Cache-Control"] == "no-store"
    book = load_workbook(io.BytesIO(xlsx.data))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "Đảng ủy xã Yên Bình" and any(row[1] == "Lê Đức Thắng" for row in rows)
    csv_body = reader.get(f"/results/rounds/{round_.id}/csv")
    assert csv_body.data.startswith("\ufeff".encode()) and "charset=utf-8" in csv_body.headers["Content-Type"]
    heading, *table = csv.reader(io.StringIO(csv_body.data.decode("utf-8-sig")), delimiter=";")  # README's dialect
    assert {dict(zip(heading, row, strict=True))["Số phiếu phát ra"] for row in table} == {"5"}
    envelope = json.loads(reader.get(f"/results/rounds/{round_.id}/json").data)
    assert envelope["fingerprint"] == signing.fingerprint(key)
    pdf = reader.get(f"/results/rounds/{round_.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    downloads = fresh(session).scalars(select(AuditEntry.action).where(AuditEntry.actor == "district_viewer")).all()
    assert {"result.download.xlsx", "result.download.csv", "result.download.json", "result.download.pdf"} <= set(
        downloads)


@pytest.mark.parametrize("who", ["sibling_viewer", "organizer", "admin"])
def test_outside_the_audience_nothing_is_readable_after_publication(login_as, session, world, key, who):
    round_ = sealed_round(session, world, key, publish=True)
    client = login_as(who)
    for path in ("", "/pdf", "/xlsx", "/csv", "/json"):
        response = client.get(f"/results/rounds/{round_.id}{path}")
        assert response.status_code == 403 and b"%PDF" not in response.data


def test_the_dashboard_lists_the_communes_and_exports_excel(login_as, session, world, key):
    sealed_round(session, world, key, publish=True)
    reader = login_as("district_viewer")
    page = reader.get(f"/results/committees/{world.district.id}/below")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Đảng ủy xã Hòa Lạc" in text and "Chưa bắt đầu" in text and "4/5" in text
    filtered = reader.get(f"/results/committees/{world.district.id}/below?phase=published&sort=flagged&order=desc")
    assert "Đảng ủy xã Hòa Lạc" not in filtered.get_data(as_text=True)
    book = load_workbook(io.BytesIO(reader.get(f"/results/committees/{world.district.id}/below?format=xlsx").data))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[1][:3] == ("Cấp ủy", "Cấp", "Đợt lấy phiếu") and any(row[7] == 4 for row in rows[2:])
    assert login_as("sibling_viewer").get(f"/results/committees/{world.district.id}/below").status_code == 403


def test_a_commune_viewer_reads_its_result_but_not_the_districts_dashboard(login_as, session, world, key):
    round_ = sealed_round(session, world, key, publish=True)
    reader = login_as("viewer")
    home = reader.get("/results/").get_data(as_text=True)
    assert f"/results/rounds/{round_.id}" in home
    assert reader.get(f"/results/committees/{world.district.id}/below").status_code == 403


@pytest.fixture
def upper_app(tmp_path, sqlite_template):
    """A second app instance with its own database, keys and the same committee tree: the province's server."""
    path = tmp_path / "upper.db"
    shutil.copyfile(sqlite_template, path)
    instance = tmp_path / "upper-instance"
    init_instance(instance)
    engine = make_engine(f"sqlite:///{path}")
    with make_sessionmaker(engine)() as other:
        world = build_world(other)
        other.commit()
    settings = Settings.from_env({"TRUSTVOTE_INSTANCE": str(instance), "TRUSTVOTE_DATABASE_URL": f"sqlite:///{path}"})
    app = create_app(settings)
    app.config.update(TESTING=True)
    yield app, engine, world
    engine.dispose()


def _login(app, username, password):
    client = Browserish(app.test_client())
    assert client.submit("/login", data={"username": username, "password": password}).status_code == 302
    return client


def _imported(engine):
    with make_sessionmaker(engine)() as other:
        return other.scalar(select(func.count()).select_from(ImportedResult))


def _upload(client, body: bytes):
    return client.submit("/results/import", data={"file": (io.BytesIO(body), "goi.json")},
                         content_type="multipart/form-data")


def test_a_bundle_exported_on_one_instance_is_imported_on_another(login_as, session, world, key, upper_app):
    round_ = sealed_round(session, world, key, publish=True)
    bundle = login_as("teller").get(f"/results/rounds/{round_.id}/bundle")
    assert bundle.status_code == 200
    app, engine, upper_world = upper_app
    organizer = _login(app, "organizer", upper_world.password)
    refused = _upload(organizer, bundle.data)
    assert refused.status_code == 422 and "chưa đăng ký" in refused.get_data(as_text=True)
    assert _imported(engine) == 0
    admin = _login(app, "admin", upper_world.password)
    registered = admin.submit("/admin/keys", data={"public_key": signing.public_bytes(key).hex(), "label": "Máy xã",
                                                   "committee_id": str(upper_world.district.id)})
    assert registered.status_code == 302
    imported = _upload(organizer, bundle.data)
    assert imported.status_code == 303 and _imported(engine) == 1
    again = _upload(organizer, bundle.data)
    assert again.status_code == 409 and _imported(engine) == 1
    reader = _login(app, "district_viewer", upper_world.password)
    dashboard = reader.get(f"/results/committees/{upper_world.district.id}/below").get_data(as_text=True)
    assert "/results/imported/" in dashboard and "4/5" in dashboard
    with make_sessionmaker(engine)() as other:
        found = other.scalars(select(ImportedResult)).one()
    page = reader.get(f"/results/imported/{found.id}")
    assert page.status_code == 200 and "Phạm Thị Hương" in page.get_data(as_text=True)
    assert _login(app, "sibling_viewer", upper_world.password).get(f"/results/imported/{found.id}").status_code == 403


@pytest.mark.parametrize("change, status", [
    (lambda b: b.update(signature=b["signature"][:-4] + "AAA="), 422),
    (lambda b: b["committee_path"].__setitem__(-1, "Đảng ủy xã Không Có"), 422),
    (lambda b: b.update(format="something/1"), 400),
])
def test_a_changed_bundle_is_refused_and_nothing_is_imported(login_as, session, world, key, upper_app, change,
                                                             status):
    round_ = sealed_round(session, world, key, publish=True)
    bundle = json.loads(login_as("teller").get(f"/results/rounds/{round_.id}/bundle").data)
    change(bundle)
    app, engine, upper_world = upper_app
    with make_sessionmaker(engine)() as other:
        other.add(TrustedKey(public_key=signing.public_bytes(key).hex(), label="Máy xã",
                             committee_id=upper_world.district.id, registered_by="admin"))
        other.commit()
    response = _upload(_login(app, "organizer", upper_world.password), json.dumps(bundle).encode())
    assert response.status_code == status and _imported(engine) == 0


def test_a_file_that_is_not_a_bundle_is_refused_with_a_message(login_as, world, upper_app):
    app, engine, upper_world = upper_app
    response = _upload(_login(app, "organizer", upper_world.password), b"\x00\xff not json")
    assert response.status_code == 400 and "không phải là gói kết quả" in response.get_data(as_text=True)
    assert _imported(engine) == 0
