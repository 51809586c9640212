"""`trustvote scan ROUND FILES... --teller NAME`: a scanner's output folder read into the count from the terminal."""

from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from ballots.models import ScanPage
from tests import scan_batch
from tests.conftest import fresh
from tests.factories import TELLERS, make_round


def test_a_scanners_files_are_read_with_a_progress_bar_and_each_page_named(tmp_path, instance, db_url, session,
                                                                           world):
    built = make_round(session, world, until="closed", board=TELLERS, issue=4)
    images = scan_batch.pages(built.round, [scan_batch.Sheet(built.secrets[0], "1231"),
                                            scan_batch.Sheet(built.secrets[1], "2222", upside_down=True)])
    batch, broken = tmp_path / "may-quet-01.pdf", tmp_path / "hong.pdf"
    batch.write_bytes(scan_batch.pdf_of(images))
    broken.write_bytes(b"%PDF-1.4 not really")
    result = CliRunner().invoke(main, ["scan", str(built.id), str(batch), str(broken), "--teller", "teller"],
                                env={"TRUSTVOTE_INSTANCE": str(instance), "TRUSTVOTE_DATABASE_URL": db_url})
    assert result.exit_code == 1, result.output  # one file refused
    assert "đọc phiếu đã quét" in result.output
    assert "may-quet-01.pdf, trang 1: read: Đã đọc: chờ kiểm phiếu viên xác nhận." in result.output
    assert "may-quet-01.pdf, trang 2: read:" in result.output
    assert "hong.pdf" in result.output and "3 trang; 1 trang bị từ chối" in result.output
    stored = fresh(session).scalars(select(ScanPage).order_by(ScanPage.id)).all()
    assert [bytes(p.marks) for p in stored] == [b"\x01\x02\x03\x01", b"\x02\x02\x02\x02"]


def test_scanning_for_an_account_off_the_board_is_refused(tmp_path, instance, db_url, session, world):
    built = make_round(session, world, until="closed", board=TELLERS, issue=1)
    page = tmp_path / "a.png"
    page.write_bytes(scan_batch.png_of(scan_batch.pages(built.round, [scan_batch.Sheet(built.secrets[0], "1111")])[0]))
    result = CliRunner().invoke(main, ["scan", str(built.id), str(page), "--teller", "organizer"],
                                env={"TRUSTVOTE_INSTANCE": str(instance), "TRUSTVOTE_DATABASE_URL": db_url})
    assert result.exit_code == 1 and "ban kiểm phiếu của đợt này" in result.output
    assert fresh(session).scalar(select(ScanPage)) is None
