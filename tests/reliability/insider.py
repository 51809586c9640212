"""What the insider tests read, as an insider would: the raw bytes of the database and of its log.

- `kendall_tau(observed)`: Kendall's tau between the casting order and an observed order (written out, O(n^2)).
- SQLite: `btree_cells(data, root)` walks a b-tree of a database file's bytes (a live file or a `.backup` copy) and
  returns every cell with its page, its offset inside the page (where SQLite allocated it) and its place in the page's
  cell pointer array (key order); `wal_frames(wal)` replays a `-wal` file frame by frame (salts and checksums
  checked, frames after the last commit dropped), as SQLite itself would on recovery.
- PostgreSQL: `wal_stream(connection, start, end)` reads the WAL written between two LSNs through
  `pg_read_binary_file` (superuser), page headers removed so that a record split across two WAL pages reads on.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

# --- the statistic --------------------------------------------------------------------------------------------


def kendall_tau(observed: Sequence[int]) -> float:
    """Kendall's tau between the casting order and an observed order: `observed` lists the casting positions of
    the ballots (distinct integers) in the order the channel shows them. 1: the channel shows the casting order;
    -1: its reverse; about 0: no relation."""
    n = len(observed)
    assert n >= 2 and len(set(observed)) == n, "tau needs at least two distinct positions"
    score = 0
    for i in range(n):
        first = observed[i]
        for j in range(i + 1, n):
            score += 1 if observed[j] > first else -1
    return score / (n * (n - 1) / 2)


def tau_sd(n: int) -> float:
    """The standard deviation of Kendall's tau between two independent orders of n items."""
    return math.sqrt(2 * (2 * n + 5) / (9 * n * (n - 1)))


# The two-sided 99.99 % bound: |tau| >= 3.89 sd happens by chance once in 10,000 (n = 50: sd 0.0976, bound 0.38)
Z_9999 = 3.89


def tau_bound(n: int) -> float:
    return Z_9999 * tau_sd(n)


def assert_no_better_than_chance(orders: dict[str, Sequence[int]], n: int) -> dict[str, float]:
    """Every observed order (casting positions, in the order the channel shows them) is one of all n ballots, and
    relates to the casting order no better than chance: |tau| under the 99.99 % bound. Returns the taus."""
    taus = {}
    for name, observed in orders.items():
        assert sorted(observed) == list(range(n)), f"{name}: the channel must show all {n} ballots, once each"
        taus[name] = kendall_tau(observed)
    bound = tau_bound(n)
    assert all(abs(tau) < bound for tau in taus.values()), (
        f"an order follows the casting order (|tau| >= {bound:.3f}): {taus}")
    return taus


# --- SQLite: b-tree pages -------------------------------------------------------------------------------------


def varint(data: bytes, pos: int) -> tuple[int, int]:
    """SQLite's variable-length integer at `pos`: (value, position after it)."""
    value = 0
    for i in range(8):
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, pos + i + 1
    return (value << 8) | data[pos + 8], pos + 9


def record(payload: bytes) -> list:
    """The values of a record (SQLite's record format): None, int, float, bytes (blob) or str (text)."""
    header_size, pos = varint(payload, 0)
    types = []
    while pos < header_size:
        serial, pos = varint(payload, pos)
        types.append(serial)
    values, body = [], header_size
    sizes = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}
    for serial in types:
        if serial == 0:
            values.append(None)
        elif serial in sizes:
            size = sizes[serial]
            values.append(int.from_bytes(payload[body:body + size], "big", signed=True))
            body += size
        elif serial == 7:
            values.append(struct.unpack(">d", payload[body:body + 8])[0])
            body += 8
        elif serial in (8, 9):
            values.append(serial - 8)
        elif serial >= 12:
            size = (serial - 12) // 2
            raw = payload[body:body + size]
            values.append(raw if serial % 2 == 0 else raw.decode("utf-8", "replace"))
            body += size
        else:
            raise ValueError(f"reserved serial type {serial}")
    return values


@dataclass(frozen=True)
class Cell:
    page: int  # 1-based page number in the file
    offset: int  # where the cell starts inside its page: SQLite allocates a page's cells from its end downwards
    slot: int  # its place in the page's cell pointer array (the b-tree's key order)
    values: list


def _header(data: bytes) -> tuple[int, int]:
    page_size = int.from_bytes(data[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    return page_size, page_size - data[20]


def _payload(data: bytes, page_size: int, usable: int, start: int, size: int, index: bool) -> bytes:
    """A cell's payload starting at file offset `start`, following its overflow pages if it has any."""
    max_local = (usable - 12) * 64 // 255 - 23 if index else usable - 35
    if size <= max_local:
        return data[start:start + size]
    min_local = (usable - 12) * 32 // 255 - 23
    local = min_local + (size - min_local) % (usable - 4)
    local = local if local <= max_local else min_local
    parts = [data[start:start + local]]
    remaining, following = size - local, int.from_bytes(data[start + local:start + local + 4], "big")
    while remaining > 0 and following:
        base = (following - 1) * page_size
        take = min(remaining, usable - 4)
        parts.append(data[base + 4:base + 4 + take])
        remaining -= take
        following = int.from_bytes(data[base:base + 4], "big")
    return b"".join(parts)


def btree_cells(data: bytes, root: int) -> list[Cell]:
    """Every cell holding a record in the b-tree rooted at page `root` of a SQLite file's bytes (table b-tree leaf
    cells; index b-tree leaf and interior cells, whose keys are records too), pages visited depth first."""
    page_size, usable = _header(data)
    cells: list[Cell] = []

    def visit(number: int) -> None:
        base = (number - 1) * page_size
        head = base + (100 if number == 1 else 0)
        kind = data[head]
        count = int.from_bytes(data[head + 3:head + 5], "big")
        interior = kind in (0x02, 0x05)
        pointers = head + (12 if interior else 8)
        children = []
        for slot in range(count):
            offset = int.from_bytes(data[pointers + 2 * slot:pointers + 2 * slot + 2], "big")
            pos = base + offset
            if interior:
                children.append(int.from_bytes(data[pos:pos + 4], "big"))
                pos += 4
            if kind == 0x05:  # table interior: a child and a rowid, no record
                continue
            size, pos = varint(data, pos)
            if kind == 0x0D:  # table leaf: the rowid, then the record
                _rowid, pos = varint(data, pos)
            payload = _payload(data, page_size, usable, pos, size, index=kind in (0x02, 0x0A))
            cells.append(Cell(number, offset, slot, record(payload)))
        if interior:
            children.append(int.from_bytes(data[head + 8:head + 12], "big"))
            for child in children:
                visit(child)
        elif kind not in (0x0A, 0x0D):
            raise ValueError(f"page {number} is not a b-tree page (type {kind:#x})")

    visit(root)
    return cells


def allocation_order(cells: Sequence[Cell]) -> list[Cell]:
    """The cells in the order SQLite allocated them inside each page (from the end of the page downwards)."""
    return sorted(cells, key=lambda c: (c.page, -c.offset))


def pointer_order(cells: Sequence[Cell]) -> list[Cell]:
    """The cells in the order of each page's cell pointer array (the key order)."""
    return sorted(cells, key=lambda c: (c.page, c.slot))


# --- SQLite: the write-ahead log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    number: int  # 0-based, in the order written
    page: int
    commit: bool  # the last frame of a transaction
    data: bytes


def _wal_checksum(data: bytes, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    words = struct.unpack(f"{'>' if big_endian else '<'}{len(data) // 4}I", data)
    for i in range(0, len(words), 2):
        s0 = (s0 + words[i] + s1) & 0xFFFFFFFF
        s1 = (s1 + words[i + 1] + s0) & 0xFFFFFFFF
    return s0, s1


def wal_frames(wal: bytes) -> list[Frame]:
    """The frames of a `-wal` file that a recovery would replay: those with the header's salts and a valid
    running checksum, up to the last commit frame."""
    if len(wal) < 32:
        return []
    magic, _version, page_size, _seq, salt1, salt2, c0, c1 = struct.unpack(">8I", wal[:32])
    assert magic in (0x377F0682, 0x377F0683), "not a SQLite WAL file"
    big_endian = bool(magic & 1)
    s0, s1 = _wal_checksum(wal[:24], 0, 0, big_endian)
    assert (s0, s1) == (c0, c1), "the WAL header's checksum is wrong"
    frames, committed, pos, number = [], 0, 32, 0
    while pos + 24 + page_size <= len(wal):
        page, size, f_salt1, f_salt2, f0, f1 = struct.unpack(">6I", wal[pos:pos + 24])
        if (f_salt1, f_salt2) != (salt1, salt2):
            break
        s0, s1 = _wal_checksum(wal[pos:pos + 8], s0, s1, big_endian)
        data = wal[pos + 24:pos + 24 + page_size]
        s0, s1 = _wal_checksum(data, s0, s1, big_endian)
        if (s0, s1) != (f0, f1):
            break
        frames.append(Frame(number, page, size != 0, data))
        if size:
            committed = len(frames)
        pos += 24 + page_size
        number += 1
    return frames[:committed]


def first_in_frames(frames: Sequence[Frame], needles: Sequence[bytes]) -> dict[bytes, tuple[int, int]]:
    """Where each needle first occurs in the replayed WAL: (frame number, offset inside the frame's page)."""
    found: dict[bytes, tuple[int, int]] = {}
    for frame in frames:
        for needle in needles:
            if needle not in found:
                at = frame.data.find(needle)
                if at >= 0:
                    found[needle] = (frame.number, at)
        if len(found) == len(needles):
            break
    return found


# --- PostgreSQL: the write-ahead log --------------------------------------------------------------------------


def lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def current_lsn(connection) -> int:
    return lsn(connection.exec_driver_sql("SELECT pg_current_wal_lsn()::text").scalar())


def wal_stream(connection, start: int, end: int) -> bytes:
    """The WAL between two LSNs, read from the segment files in pg_wal (superuser), with every WAL page's header
    removed, so that records (and the bytes they carry) read on across page and segment boundaries. Checks each
    page's own address: a recycled or stale segment is refused, never searched."""
    settings = dict(connection.exec_driver_sql(
        "SELECT name, setting FROM pg_settings WHERE name IN ('wal_segment_size', 'wal_block_size')").all())
    segment_size, block = int(settings["wal_segment_size"]), int(settings["wal_block_size"])
    timeline = connection.exec_driver_sql("SELECT timeline_id FROM pg_control_checkpoint()").scalar()
    per_id = 0x100000000 // segment_size
    parts, page_start = [], start - start % block
    while page_start < end:
        segment = page_start // segment_size
        name = f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"
        segment_end = (segment + 1) * segment_size
        upto = min(end, segment_end)
        data = connection.exec_driver_sql(
            "SELECT pg_read_binary_file(%s, %s, %s)",
            (f"pg_wal/{name}", page_start - segment * segment_size, upto - page_start)).scalar()
        data = bytes(data)
        for at in range(0, len(data), block):
            page = data[at:at + block]
            info = int.from_bytes(page[2:4], "little")
            address = int.from_bytes(page[8:16], "little")
            assert address == page_start + at, f"{name}: a WAL page at {page_start + at:#x} says {address:#x}"
            header = 40 if info & 0x0002 else 24  # XLP_LONG_HEADER: the first page of a segment
            skip = max(header, start - (page_start + at))
            parts.append(page[skip:])
        page_start = upto
    return b"".join(parts)


# --- writing as an insider ------------------------------------------------------------------------------------


def as_insider(engine, *statements, **params) -> None:
    """What an insider with the database's admin rights does: switch the triggers off (SQLite: drop them;
    PostgreSQL: replica mode for the transaction), then run `statements` with `params`, in one transaction."""
    from sqlalchemy import text

    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            names = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
            for name in list(names):
                connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        else:
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in statements:
            connection.execute(text(statement), params)
