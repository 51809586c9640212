"""Reading scanned ballots: sheets read per second on one core at 300 dpi (A4, 15 and 40 candidates), against bare
QR decoding (zxing-cpp) of the same pages in the same run; then the peak memory of reading a 500-page scanned PDF.

The pages are ballots printed by the product, marked and scanned by tests/scan_corpus.py. The process is pinned to
one core and OpenCV to one thread. The machines are shared and noisy: the ratio to bare QR decoding is the figure
to compare. The memory is measured in a fresh subprocess (its peak resident size, against the same subprocess
having only loaded the PDF). Run: .venv/bin/python bench/scan.py
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import zxingcpp  # noqa: E402

from ballots import sheet_reader  # noqa: E402
from tests import scan_corpus  # noqa: E402


def rates(pages, layout, passes: int) -> tuple[float, float, float]:
    """Sheets read per second, bare QR decodings per second and CPU seconds a sheet, each the median of `passes`
    passes (on a loaded machine the CPU time says what one free core would do)."""
    read, bare, cpu = [], [], []
    for _ in range(passes):
        start, start_cpu = time.perf_counter(), time.process_time()
        for page in pages:
            reading = sheet_reader.read_sheet(page, lambda code: layout)
            assert reading.rows, reading.problems
        read.append(len(pages) / (time.perf_counter() - start))
        cpu.append((time.process_time() - start_cpu) / len(pages))
        start = time.perf_counter()
        for page in pages:
            assert zxingcpp.read_barcodes(page.image, formats=zxingcpp.BarcodeFormat.QRCode)
        bare.append(len(pages) / (time.perf_counter() - start))
    return statistics.median(read), statistics.median(bare), statistics.median(cpu)


def scanned_pdf(count: int) -> tuple[bytes, dict[str, int]]:
    """A scanner's PDF of `count` pages at 200 dpi (a JPEG image on each page, as scanners write them), and the
    candidate count of each code in it. The pages are 20 marked sheets over and over, each page's image its own
    (a mark in its corner differs), so that nothing is shared between pages."""
    from PIL import Image
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    scans, _ = scan_corpus.corpus(papers=("A4",), counts=(15, 40), dpis=(200,), per_setting=10, seed=7)
    out = io.BytesIO()
    canvas = Canvas(out, pageCompression=0)
    for number in range(count):
        image = scans[number % len(scans)].page.image.copy()
        image[4:8, 4:36] = np.repeat([(number >> bit & 1) * 255 for bit in range(16)], 2)  # the page's own pixels
        jpeg = io.BytesIO()
        Image.fromarray(image).save(jpeg, format="JPEG", quality=75)
        canvas.setPageSize((image.shape[1] * 72 / 200, image.shape[0] * 72 / 200))
        canvas.drawImage(ImageReader(io.BytesIO(jpeg.getvalue())), 0, 0, image.shape[1] * 72 / 200,
                         image.shape[0] * 72 / 200)
        canvas.showPage()
    canvas.save()
    return out.getvalue(), {s.code: s.layout.candidate_count for s in scans}


MEMORY_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
import cv2
cv2.setNumThreads(1)
from ballots import scan_input, sheet_reader, sheet_layout
data = open({path!r}, "rb").read()
counts = json.load(open({path!r} + ".json"))
def peak():  # VmHWM: this process's own peak (ru_maxrss would carry the parent's over the exec)
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
before = peak()
pages = read = 0
if {read_them}:
    for page in scan_input.pages_of(data, "batch.pdf"):
        pages += 1
        reading = sheet_reader.read_sheet(page, lambda code: sheet_layout.sheet_layout("A4", counts[code]))
        read += bool(reading.rows)
print(before, peak(), pages, read)
"""


def peak_memory(pdf: Path, read_them: bool) -> tuple[int, int, int, int]:
    code = MEMORY_CHILD.format(root=str(ROOT), path=str(pdf), read_them=read_them)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=3600)
    before, after, pages, read = map(int, done.stdout.split())
    return before, after, pages, read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheets", type=int, default=20, help="marked sheets per candidate count")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--pdf-pages", type=int, default=500)
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    print(f"scan: {args.sheets} marked A4 sheets a candidate count, scanned at 300 dpi, one core, median of "
          f"{args.passes}")
    for candidates in (15, 40):
        scans, _ = scan_corpus.corpus(papers=("A4",), counts=(candidates,), dpis=(300,), per_setting=args.sheets,
                                      seed=candidates)
        layout = scans[0].layout
        read, bare, cpu = rates([s.page for s in scans], layout, args.passes)
        print(f"  {candidates} candidates: sheets read {read:6.1f}/s   bare QR decoding {bare:6.1f}/s   "
              f"ratio {read / bare:.2f}   CPU {cpu * 1000:.0f} ms a sheet ({1 / cpu:.1f} sheets/s of CPU)")
    pdf = Path(os.environ.get("TMPDIR", "/tmp")) / "trustvote-bench-scan.pdf"
    data, counts = scanned_pdf(args.pdf_pages)
    pdf.write_bytes(data)
    Path(f"{pdf}.json").write_text(json.dumps(counts))
    size = pdf.stat().st_size
    try:
        _, loaded, _, _ = peak_memory(pdf, False)
        start = time.perf_counter()
        _, after, pages, read = peak_memory(pdf, True)
        seconds = time.perf_counter() - start
    finally:
        pdf.unlink()
        Path(f"{pdf}.json").unlink()
    print(f"  a {pages}-page scanned PDF ({size / 1e6:.0f} MB, 200 dpi JPEG pages) read page by page: {read} sheets "
          f"read in {seconds:.0f} s; peak RSS {after / 1024:.0f} MB, against {loaded / 1024:.0f} MB with the PDF "
          f"loaded and nothing read")
    print(f"  this process's peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
