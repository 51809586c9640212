"""Abuse, tried as an attacker on the venue network or the internet would, against gunicorn with the shipped config
(issue 13), on SQLite and PostgreSQL. Loopback only (127.0.0.1), every loop bounded in count and in time.

The server runs as behind nginx (TRUSTVOTE_PROXY_HOPS=1): the client's address is the X-Forwarded-For entry nginx
appends, which lets one machine play a venue's router (many tablets and the attacker behind one address) and
other addresses.

- A flood of at least FLOOD wrong codes from one address (no tablet id, forged ids, ids from fresh page loads)
  while the genuine tablets behind the same address cast: every genuine cast is accepted, and their p99 stays
  within 3× of the same casts without the flood.
- Memory: 32 concurrent oversized camera frames (4096 × 4096 JPEGs), 32 concurrent frames of the largest size
  accepted, and 64 concurrent log-ins (argon2id, 64 MiB each) keep the server's RSS (master and workers) under
  RSS_BOUND_MIB.
- A 1 MB .xlsx roster holding one 1 GB cell is refused in under a second, the server's RSS growing by less than
  50 MB.
- Log-in: 40 concurrent wrong passwords for one username check at most FREE_PER_SOURCE of them, 64 concurrent
  attempts at as many usernames from one address at most FREE_PER_ADDRESS; with the throttle's lock disabled the
  same burst on PostgreSQL passes the limit (the control). The owner, elsewhere or behind the attacker's router
  with the browser they logged in from before, logs in while the attacker keeps failing; after their own typos,
  after the delay the server states.
- The database out of reach (PostgreSQL refusing connections; SQLite locked by another process past the busy
  timeout): a cast is answered 503 with Retry-After, and the tablet's retry with the same submission id is
  recorded once.
- The shipped nginx site passes `nginx -t`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets as random_source
import shutil
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.settings import AUDIT_KEY_FILE, load_audit_key
from ballots import accounts, locks, tokens
from ballots.db import make_engine, make_sessionmaker
from ballots.models import LoginFailure
from tests.conftest import unavailable
from tests.factories import build_world, make_round

from .helpers import ROOT, Gunicorn, init_instance, module_database, quick_password_hashing

FLOOD = 1_000
FLOOD_THREADS = 12
GENUINE_TABLETS = 3
GENUINE_CASTS = 40  # per tablet and phase: 120 casts during the flood, 240 quiet (120 before it, 120 after)
P99_RATIO = 3.0
# the quiet run's p99 is taken as at least this: on a shared 2-core machine (and beside the suite's other worker)
# one scheduling hiccup of a few tens of milliseconds is the p99 of a few dozen casts, flood or no flood
QUIET_P99_FLOOR = 0.050
RSS_BOUND_MIB = 700  # master and two workers; before issue 13 the frames alone took it to 3,596 MiB
BOMB_RSS_GROWTH_MIB = 50
TIME_LIMIT = 240  # seconds for any one scenario's loops
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
TABLET = re.compile(r'data-tablet="([^"]+)"')


# --- clients --------------------------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is an answer to look at, not to follow


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes
    seconds: float

    def json(self) -> dict:
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


class Client:
    """One browser or tablet: cookies of its own, from one address (as nginx would forward it)."""

    def __init__(self, base: str, address: str) -> None:
        self.base, self.address = base, address
        self.cookies = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect())

    def send(self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None,
             headers: dict | None = None, timeout: float = 60) -> Answer:
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"X-Forwarded-For": self.address, **(headers or {})})
        if content_type:
            request.add_header("Content-Type", content_type)
        began = time.perf_counter()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return Answer(response.status, dict(response.headers), response.read(), time.perf_counter() - began)
        except urllib.error.HTTPError as error:
            with error:
                return Answer(error.code, dict(error.headers), error.read(), time.perf_counter() - began)

    def get(self, path: str, **kwargs) -> Answer:
        return self.send("GET", path, **kwargs)

    def post_json(self, path: str, data: dict, **kwargs) -> Answer:
        return self.send("POST", path, body=json.dumps(data).encode(), content_type="application/json", **kwargs)

    def csrf(self, path: str) -> str:
        page = self.get(path)
        assert page.status == 200, (path, page.status)
        match = CSRF.search(page.body.decode())
        return match.group(1) or match.group(2)

    def post_form(self, path: str, fields: dict, **kwargs) -> Answer:
        return self.send("POST", path, body=urllib.parse.urlencode(fields).encode(),
                         content_type="application/x-www-form-urlencoded", **kwargs)

    def login(self, username: str, password: str, token: str | None = None) -> Answer:
        return self.post_form("/login", {"csrf_token": token or self.csrf("/login"), "username": username,
                                         "password": password})

    def tablet(self, round_id: int) -> str:
        page = self.get(f"/kiosk/{round_id}")
        assert page.status == 200, page.status
        return TABLET.search(page.body.decode()).group(1)



def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- the server's memory -------------------------------------------------------------------------------------------

def server_pids(master: int) -> list[int]:
    pids = [master]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rpartition(")")[2].split()[1]) == master:
                    pids.append(int(entry))
    return pids


def rss_mib(master: int) -> float:
    total = 0
    for pid in server_pids(master):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class RssPeak:
    """The largest RSS of the server (master and workers together) while the block runs, sampled every 20 ms."""

    def __init__(self, master: int) -> None:
        self.master, self.peak, self.before = master, 0.0, rss_mib(master)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.master))
            self._stop.wait(0.02)

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.peak = max(self.peak, rss_mib(self.master))


def together(count: int, action, timeout: float = TIME_LIMIT) -> list:
    """Run action(i) in `count` threads released together; their results, in order (an exception as itself)."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(60)
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001 (reported by the test)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a request did not finish in time"
    return results


# --- the server under attack ----------------------------------------------------------------------------------

@dataclass
class Venue:
    """A round open for voting, served by gunicorn as shipped, and the accounts of the world."""

    server: Gunicorn
    db_url: str
    engine: object
    round_id: int
    candidates: int
    codes: list[str]
    commune_id: int
    password: str
    used: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, count: int) -> list[str]:
        with self.lock:
            fresh = [code for code in self.codes if code not in self.used][:count]
            self.used.update(fresh)
        assert len(fresh) == count, "the round has too few ballots left"
        return fresh

    def client(self, address: str) -> Client:
        return Client(self.server.base, address)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def venue(request, tmp_path_factory):
    db_url, engine = module_database(request, tmp_path_factory)
    try:
        folder = tmp_path_factory.mktemp("abuse")
        env = init_instance(db_url, folder / "instance")
        env["TRUSTVOTE_PROXY_HOPS"] = "1"  # as behind nginx: the address is X-Forwarded-For's last entry
        audit_key, _since = load_audit_key(folder / "instance" / AUDIT_KEY_FILE)  # the server's, for the box
        with quick_password_hashing(), make_sessionmaker(engine, audit_key=audit_key)() as session:
            world = build_world(session)
            ballots = 3 * GENUINE_TABLETS * GENUINE_CASTS + 60
            built = make_round(session, world, until="open", convened=ballots, present=ballots)
            round_id, codes, candidates = built.id, built.codes, len(built.round.candidates)
            commune_id, password = world.commune.id, world.password
        with Gunicorn(env, folder / "gunicorn.log") as server:
            yield Venue(server, db_url, engine, round_id, candidates, codes, commune_id, password)
    finally:
        engine.dispose()


def cast(client: Client, venue: Venue, code: str, tablet: str | None) -> Answer:
    body = {"code": code, "marks": "1230"[:venue.candidates].ljust(venue.candidates, "2"),
            "submission": random_source.token_urlsafe(18), "round": venue.round_id}
    return client.post_json("/api/v1/ballots", body, headers={"X-Tablet": tablet} if tablet else None)


def genuine_casts(venue: Venue, tablets: list[tuple[Client, str]]) -> list[Answer]:
    """Each tablet casts GENUINE_CASTS ballots one after the other, the tablets at the same time."""
    def run(i: int) -> list[Answer]:
        client, tablet = tablets[i]
        return [cast(client, venue, code, tablet) for code in venue.take(GENUINE_CASTS)]

    results = together(len(tablets), run)
    for result in results:
        assert not isinstance(result, Exception), result
    return [answer for answers in results for answer in answers]


def test_a_flood_of_wrong_codes_from_one_address_never_stops_its_genuine_tablets(venue):
    router = "10.20.0.1"  # the venue's tablets and the attacker, behind one address
    tablets = [(client := venue.client(router), client.tablet(venue.round_id)) for _ in range(GENUINE_TABLETS)]
    for client, tablet in tablets:  # warm the server up (connections, first requests), unmeasured
        assert cast(client, venue, venue.take(1)[0], tablet).status == 201
    quiet = genuine_casts(venue, tablets)
    assert [a.status for a in quiet] == [201] * len(quiet)

    sent, statuses = [0], {}
    stop = threading.Event()
    flood_lock = threading.Lock()

    def attacker(i: int) -> None:
        """Wrong codes as fast as the answers come: without a tablet id, with forged ones, with ids of fresh page
        loads; half of the threads opening ballots, half casting."""
        client = venue.client(router)
        began = time.monotonic()
        while not stop.is_set() and time.monotonic() - began < TIME_LIMIT:
            with flood_lock:
                if sent[0] >= 4 * FLOOD:
                    return
                sent[0] += 1
                way = sent[0] % 3
            tablet = (None, f"forged-{uuid.uuid4()}", client.tablet(venue.round_id) if way == 2 else None)[way]
            code = tokens.grouped(tokens.code_of(tokens.new_secret()))
            answer = (cast(client, venue, code, tablet) if i % 2 else
                      client.post_json("/api/v1/ballots/open", {"code": code, "round": venue.round_id},
                                       headers={"X-Tablet": tablet} if tablet else None))
            with flood_lock:
                statuses[answer.status] = statuses.get(answer.status, 0) + 1

    flood = [threading.Thread(target=attacker, args=(i,), daemon=True) for i in range(FLOOD_THREADS)]
    flood_began = time.monotonic()
    for thread in flood:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while sent[0] < FLOOD // 5 and time.monotonic() < deadline:  # the flood is well under way
            time.sleep(0.05)
        flooded = genuine_casts(venue, tablets)
        while sent[0] < FLOOD and time.monotonic() < deadline + TIME_LIMIT:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in flood:
            thread.join(60)
    flood_seconds = time.monotonic() - flood_began
    assert sent[0] >= FLOOD, sent
    assert [a.status for a in flooded] == [201] * len(flooded)  # every genuine ballot accepted
    # the quiet run in two halves, before and after the flood: the machine is shared, its load drifts
    quiet += genuine_casts(venue, tablets)
    assert [a.status for a in quiet] == [201] * len(quiet)
    assert set(statuses) <= {404, 429}, statuses  # wrong codes: answered (held back or asked to wait), no 5xx
    quiet_p99 = percentile([a.seconds for a in quiet], 0.99)
    flood_p99 = percentile([a.seconds for a in flooded], 0.99)
    quiet_p50 = statistics.median(a.seconds for a in quiet) * 1000
    print(f"\n[{venue.db_url.split(':')[0]}] genuine casts p50/p99: quiet {quiet_p50:.1f}"
          f"/{quiet_p99 * 1000:.1f} ms, under a flood of {sent[0]} wrong codes "
          f"{statistics.median(a.seconds for a in flooded) * 1000:.1f}/{flood_p99 * 1000:.1f} ms "
          f"(ratio {flood_p99 / quiet_p99:.2f}); flood answers {statuses} in {flood_seconds:.1f} s")
    assert flood_p99 <= P99_RATIO * max(quiet_p99, QUIET_P99_FLOOR), (quiet_p99, flood_p99)


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def test_oversized_frames_and_concurrent_logins_keep_the_servers_memory_bounded(venue):
    master = venue.server.process.pid
    oversized = jpeg(Image.linear_gradient("L").resize((4096, 4096)))  # about 200 KB
    largest = jpeg(Image.effect_noise((1920, 1080), 64).convert("L"))
    assert len(oversized) < 400_000 and len(largest) < 2 * 1024 * 1024
    clients = [venue.client(f"10.50.0.{i + 1}") for i in range(64)]
    tokens_ = [client.csrf("/login") for client in clients]
    before = rss_mib(master)

    def frame(data: bytes):
        return lambda i: clients[i].send("POST", "/api/v1/scan", body=data, content_type="image/jpeg").status

    with RssPeak(master) as frames:
        refused = together(32, frame(oversized))
        decoded = together(32, frame(largest))
    with RssPeak(master) as logins:
        answered = together(64, lambda i: clients[i].login(f"khongco{i}", "đoán sai", tokens_[i]).status)
    print(f"\n[{venue.db_url.split(':')[0]}] server RSS before {before:.0f} MiB; peak under 64 frames "
          f"{frames.peak:.0f} MiB, under 64 log-ins {logins.peak:.0f} MiB (bound {RSS_BOUND_MIB} MiB); "
          f"frames {sorted(set(refused + decoded))}, log-ins {sorted(set(answered))}")
    assert refused == [400] * 32  # refused from the header, nothing decoded
    assert set(decoded) <= {200, 503} and 200 in decoded
    assert set(answered) <= {401, 503} and 401 in answered  # checked, or "busy, try again"
    assert frames.peak < RSS_BOUND_MIB and logins.peak < RSS_BOUND_MIB


def zip_bomb() -> bytes:
    """A roster workbook of about 1 MB whose one cell unpacks to 1 GiB."""
    from openpyxl import Workbook

    book, plain = Workbook(), io.BytesIO()
    book.active.append(["Cấp ủy", "Họ và tên", "Chức vụ"])
    book.save(plain)
    source, out = zipfile.ZipFile(plain), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info.filename, source.read(info.filename))
        with target.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as stream:
            stream.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                         b'<row r="1"><c r="A1" t="inlineStr"><is><t>')
            chunk = b"A" * (1 << 20)
            for _ in range(1024):
                stream.write(chunk)
            stream.write(b"</t></is></c></row></sheetData></worksheet>")
    return out.getvalue()


def multipart(fields: dict, name: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                 f"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n".encode()
                 + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_a_zip_bomb_roster_is_refused_in_under_a_second_without_unpacking_it(venue):
    bomb = zip_bomb()
    assert len(bomb) < 1_200_000
    organizer = venue.client("10.60.0.1")
    assert organizer.login("organizer", venue.password).status == 302
    path = f"/committees/{venue.commune_id}/import"
    body, content_type = multipart({"csrf_token": organizer.csrf(path)}, "file", "danh-sach.xlsx", bomb)
    master = venue.server.process.pid
    with RssPeak(master) as memory:
        answer = organizer.send("POST", path, body=body, content_type=content_type)
    print(f"\n[{venue.db_url.split(':')[0]}] 1 GiB zip bomb of {len(bomb) / 1e6:.2f} MB refused in "
          f"{answer.seconds * 1000:.0f} ms; server RSS {memory.before:.0f} -> peak {memory.peak:.0f} MiB")
    assert answer.status == 400 and "Tệp Excel quá lớn khi giải nén" in answer.body.decode()
    assert answer.seconds < 1.0
    assert memory.peak - memory.before < BOMB_RSS_GROWTH_MIB


def failures_of(venue: Venue, **where) -> int:
    with make_sessionmaker(venue.engine)() as session:
        return session.scalar(select(func.count()).select_from(LoginFailure)
                              .where(*(getattr(LoginFailure, k) == v for k, v in where.items())))


def test_a_burst_of_wrong_passwords_checks_no_more_than_the_limit(venue):
    guessers = [venue.client("10.30.0.1") for _ in range(40)]
    csrf = [client.csrf("/login") for client in guessers]
    one_user = together(40, lambda i: guessers[i].login("viewer", f"đoán-{i}", csrf[i]).status)
    assert set(one_user) <= {401, 429, 503}, one_user
    assert one_user.count(401) <= accounts.FREE_PER_SOURCE
    assert failures_of(venue, username="viewer") <= accounts.FREE_PER_SOURCE

    sprayers = [venue.client("10.31.0.1") for _ in range(64)]
    csrf = [client.csrf("/login") for client in sprayers]
    many_users = together(64, lambda i: sprayers[i].login(f"nguoi{i}", "đoán sai", csrf[i]).status)
    assert set(many_users) <= {401, 429, 503}, many_users
    assert many_users.count(401) <= accounts.FREE_PER_ADDRESS
    assert failures_of(venue, address="10.31.0.1") <= accounts.FREE_PER_ADDRESS
    print(f"\n[{venue.db_url.split(':')[0]}] 40 at once on one username: {one_user.count(401)} checked; "
          f"64 usernames at once from one address: {many_users.count(401)} checked")


def test_without_the_lock_the_same_burst_passes_the_limit(venue, monkeypatch):
    """The control, on PostgreSQL (where nothing else serialises the attempts): reserving attempts from 40 sessions
    at once without the throttle's lock lets more than the limit through; with it, at most the limit."""
    if not venue.db_url.startswith("postgresql"):
        pytest.skip("SQLite's BEGIN IMMEDIATE serialises the reservations by itself")
    engine = make_engine(venue.db_url, pool_size=40, max_overflow=0)
    sessions = make_sessionmaker(engine)

    def burst(username: str) -> int:
        def reserve(_i: int) -> bool:
            with sessions() as session:
                try:
                    accounts.begin_login(session, username=username, address="10.32.0.1")
                except Exception:  # noqa: BLE001 (LoginThrottled)
                    return False
                time.sleep(0.05)  # the transaction stays open a moment, as under load
                session.commit()
                return True
        return sum(1 for ok in together(40, reserve) if ok is True)

    try:
        # at most the limit (the promise); fewer when a loaded machine stretches the burst past a delay's start
        assert 1 <= burst("locked-user") <= accounts.FREE_PER_SOURCE
        with monkeypatch.context() as patch:
            patch.setattr(locks, "hold", lambda session, *names: None)
            assert burst("unlocked-user") > accounts.FREE_PER_SOURCE
    finally:
        engine.dispose()


def test_the_owner_logs_in_while_an_attacker_keeps_failing(venue):
    attacker_router = "10.66.0.1"
    owner_home = venue.client("10.40.0.1")
    # the owner logged in once from their browser behind the venue's router: it holds its device cookie
    owner_at_venue = venue.client(attacker_router)
    assert owner_at_venue.login("teller2", venue.password).status == 302
    owner_at_venue.post_form("/logout", {"csrf_token": owner_at_venue.csrf("/")})

    stop, failures = threading.Event(), []

    def attack() -> None:
        attacker = venue.client(attacker_router)
        token = attacker.csrf("/login")
        for _ in range(300):
            if stop.is_set():
                return
            failures.append(attacker.login("teller2", "đoán sai", token).status)
            time.sleep(0.05)

    thread = threading.Thread(target=attack, daemon=True)
    thread.start()
    try:
        while len(failures) < 20:
            time.sleep(0.05)
        assert failures.count(401) <= accounts.FREE_PER_SOURCE and 429 in failures
        # behind the same router, from the browser that logged in before: at once
        assert owner_at_venue.login("teller2", venue.password).status == 302
        # from elsewhere, after typos of their own: slowed for the delay the server states, then in
        for _ in range(accounts.FREE_PER_SOURCE):
            assert owner_home.login("teller2", "gõ nhầm").status == 401
        waited = owner_home.login("teller2", venue.password)
        assert waited.status == 429 and "Đăng nhập sai quá nhiều lần" in waited.body.decode()
        delay = int(waited.headers["Retry-After"])
        assert 1 <= delay <= accounts.FIRST_DELAY
        time.sleep(delay)
        began = time.monotonic()
        assert owner_home.login("teller2", venue.password).status == 302
        assert time.monotonic() - began < 5
        assert not stop.is_set() and thread.is_alive()  # the attacker was failing all along
    finally:
        stop.set()
        thread.join(30)


@contextlib.contextmanager
def database_out_of_reach(venue: Venue):
    """PostgreSQL: the database stops accepting connections and its open ones are cut. SQLite: another process holds
    the database's write lock past the server's busy timeout (30 s; as a stuck backup would)."""
    if venue.db_url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        name = make_url(venue.db_url).database
        admin = make_engine(venue.db_url.replace(f"/{name}", "/postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                connection.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                           "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
            yield
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            admin.dispose()
    else:
        import sqlite3

        holder = sqlite3.connect(venue.db_url.removeprefix("sqlite:///"), isolation_level=None, timeout=60)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()


def test_a_cast_while_the_database_is_out_of_reach_is_503_and_its_retry_counts_once(venue):
    tablet_client = venue.client("10.70.0.1")
    tablet = tablet_client.tablet(venue.round_id)
    code = venue.take(1)[0]
    body = {"code": code, "marks": "1" * venue.candidates, "submission": "outage-retry-0000001",
            "round": venue.round_id}
    with database_out_of_reach(venue):
        refused = tablet_client.post_json("/api/v1/ballots", body, headers={"X-Tablet": tablet}, timeout=90)
    assert refused.status == 503, (refused.status, refused.body[:300])
    assert refused.headers["Retry-After"] == "3" and refused.json()["error"] == "DatabaseUnavailable"
    # the kiosk's script sends the same submission again after Retry-After
    recorded = tablet_client.post_json("/api/v1/ballots", body, headers={"X-Tablet": tablet})
    assert recorded.status == 201, (recorded.status, recorded.body[:300])
    again = tablet_client.post_json("/api/v1/ballots", body, headers={"X-Tablet": tablet})
    assert again.status == 200 and again.json()["status"] == "already_recorded"


def test_the_shipped_nginx_site_is_valid(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        unavailable("nginx not found: install nginx-light")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
                    "cert.pem", "-days", "1", "-subj", "/CN=trustvote.example.vn"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    site = (ROOT / "deploy/nginx/trustvote.conf").read_text()
    site = (site.replace("/etc/ssl/certs/trustvote.example.vn.crt", str(tmp_path / "cert.pem"))
            .replace("/etc/ssl/private/trustvote.example.vn.key", str(tmp_path / "key.pem"))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                                         f"events {{}}\nhttp {{ include {tmp_path}/site.conf; }}\n")
    done = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "limit_conn trustvote_scan_address" in site and "client_max_body_size 16k" in site
