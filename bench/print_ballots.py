"""Printing ballots: 2,000 ballots of 40 candidates into one PDF, against bare QR generation of the same payloads.

Prints ballots per second, the peak memory of the printing (traced Python allocations and the process's peak
resident size), and the ratio of the printing rate to the rate of bare QR generation measured in the same run
(the machines are shared and noisy: the ratio is the figure to compare). Run: .venv/bin/python bench/print_ballots.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ballots import printing, tokens  # noqa: E402
from _databases import candidate  # noqa: E402

BASE_URL = "https://bauphieu.tinhuy.example.vn"


def sheet(candidates: int) -> printing.BallotSheet:
    people = tuple(candidate(i) for i in range(candidates))
    return printing.BallotSheet("Tỉnh ủy Sơn Lâm", "Đảng ủy xã Tân Hòa", "Hội nghị sơ kết giữa nhiệm kỳ 2020-2025",
                                dt.date(2026, 12, 5), "Lấy phiếu tín nhiệm đối với Ban Chấp hành Đảng bộ xã", people)


def bare_qr(secrets: list[bytes]) -> float:
    start = time.perf_counter()
    for secret in secrets:
        printing.qr_modules(tokens.qr_payload(BASE_URL, secret))
    return time.perf_counter() - start


def print_all(secrets: list[bytes], candidates: int, paper: str) -> tuple[float, int, int]:
    with tempfile.TemporaryFile() as out:
        tracemalloc.start()
        start = time.perf_counter()
        printing.print_ballots(sheet(candidates), secrets, out, base_url=BASE_URL, paper=paper)
        elapsed = time.perf_counter() - start
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = out.tell()
    return elapsed, peak, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--paper", choices=sorted(printing.PAPERS), default="A4")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is reported")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    secrets = [tokens.new_secret() for _ in range(args.ballots)]
    print_all(secrets[:50], args.candidates, args.paper)  # warm up: fonts, imports
    qr_times, print_times, peaks, size = [], [], [], 0
    for _ in range(args.repeat):
        qr_times.append(bare_qr(secrets))
        elapsed, peak, size = print_all(secrets, args.candidates, args.paper)
        print_times.append(elapsed)
        peaks.append(peak)
    qr_rate = args.ballots / sorted(qr_times)[len(qr_times) // 2]
    print_rate = args.ballots / sorted(print_times)[len(print_times) // 2]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"print_ballots: {args.ballots} ballots x {args.candidates} candidates, {args.paper}, "
          f"median of {args.repeat}, one core")
    print(f"  bare QR generation     {qr_rate:8.0f} codes/s")
    print(f"  ballots printed        {print_rate:8.0f} ballots/s   ratio to bare QR {print_rate / qr_rate:.2f}")
    print(f"  peak traced memory     {max(peaks) / 1e6:8.1f} MB      process peak RSS {rss_mb:.0f} MB")
    print(f"  PDF size               {size / 1e6:8.1f} MB      ({size / args.ballots / 1024:.1f} KiB a ballot)")


if __name__ == "__main__":
    main()
