"""The venue kit (issue 16) and the QR's address (issue 12, item 5), run as an operator runs them.

- deploy/venue.py (what `make venue` runs) on 127.0.0.1, the address stated: the kiosk fetched over HTTPS with the
  generated authority as the only trust root; the certificates' names, expiry, key usages and name constraints;
  the QR of a page printed by that server holds the https:// address; the install page over plain HTTP, anything
  else there redirected or refused; the certificates reused on the next run.
- gunicorn with the shipped config refuses plain HTTP on a venue address unless asked for, with a warning.
- `PORT=5123 make run`: the demo's ballots and the server's QR codes hold :5123.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.cookiejar
import ipaddress
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ballots import venue
from tests.factories import make_round
from tests.pdfs import qr_texts
from tests.reliability.helpers import (
    BIN,
    ROOT,
    clean_env,
    free_port,
    init_instance,
    instance_sessions,
    quick_password_hashing,
)


@contextlib.contextmanager
def venue_script(env: dict[str, str], log: Path, address: str = "127.0.0.1") -> Iterator[tuple[str, str]]:
    """deploy/venue.py in a process group of its own, serving until the block ends. Yields (https base, install
    page address)."""
    port, install_port = free_port(), free_port()
    with log.open("ab") as out:
        process = subprocess.Popen([str(BIN / "python"), "deploy/venue.py", "--address", address, "--port", str(port),
                                    "--install-port", str(install_port)], cwd=ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
                break
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield f"https://{address}:{port}", f"http://{address}:{install_port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def trusting(ca: Path) -> ssl.SSLContext:
    """A TLS client whose only trust root is the venue's authority (the system's are not loaded)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=str(ca))
    return context


def venue_instance(tmp_path: Path, db_url: str | None = None) -> tuple[dict[str, str], int]:
    """An instance on `db_url` (an empty, migrated database; by default a new SQLite file) with a world and a round
    in draft whose board is `teller`; returns (env, round id)."""
    from ballots.db import make_engine
    from tests.factories import build_world

    instance = tmp_path / "instance"
    env = init_instance(db_url or f"sqlite:///{tmp_path / 'trustvote.db'}", instance)
    engine = make_engine(env["TRUSTVOTE_DATABASE_URL"])
    try:
        with quick_password_hashing(), instance_sessions(engine, instance)() as session:
            world = build_world(session)
            round_id = make_round(session, world, convened=10, present=10).id
    finally:
        engine.dispose()
    return {**env, "TRUSTVOTE_WORKERS": "1", "PASSWORD": world.password}, round_id


class Client:
    """A browser's cookies and CSRF token, over HTTPS trusting only the venue's authority."""

    def __init__(self, base: str, context: ssl.SSLContext) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context),
                                                  urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with self.opener.open(self.base + path, timeout=20) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:  # its connection closed now, not whenever the garbage collector finds it (a ResourceWarning)
                return error.code, error.read()

    def post(self, path: str, form: dict[str, str], page: str) -> tuple[int, bytes]:
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', self.get(page)[1]).group(1).decode()
        data = urllib.parse.urlencode({**form, "csrf_token": token}).encode()
        with self.opener.open(self.base + path, data=data, timeout=20) as response:
            return response.status, response.read()


def test_make_venue_serves_https_with_its_own_authority_and_the_qr_holds_the_https_address(tmp_path):
    env, round_id = venue_instance(tmp_path)
    instance = Path(env["TRUSTVOTE_INSTANCE"])
    log = tmp_path / "venue.log"
    with venue_script(env, log) as (base, install):
        context = trusting(instance / venue.CA_CERT_FILE)
        # the kiosk, over HTTPS, the authority the only trust root; its certificate as the server presented it
        with urllib.request.urlopen(f"{base}/kiosk/{round_id}", context=context, timeout=20) as response:
            assert response.status == 200
            assert "Quét mã QR trên phiếu" in response.read().decode()
        host, port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
        with socket.create_connection((host, port), timeout=20) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            presented = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        # the system's roots alone do not know this authority
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(f"{base}/kiosk/{round_id}", context=ssl.create_default_context(), timeout=20)

        server = x509.load_pem_x509_certificate((instance / venue.SERVER_CERT_FILE).read_bytes())
        ca = x509.load_pem_x509_certificate((instance / venue.CA_CERT_FILE).read_bytes())
        assert presented == server
        names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        assert names.get_values_for_type(x509.DNSName) == []
        now = dt.datetime.now(dt.timezone.utc)
        assert server.not_valid_before_utc <= now
        assert dt.timedelta(days=390) < server.not_valid_after_utc - now <= dt.timedelta(days=398)
        usage = server.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
        assert server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
            [ExtendedKeyUsageOID.SERVER_AUTH])
        assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        server.verify_directly_issued_by(ca)
        ca_usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        assert ca_usage.key_cert_sign and ca_usage.crl_sign and not ca_usage.digital_signature
        basic = ca.extensions.get_extension_for_class(x509.BasicConstraints)
        assert basic.critical and basic.value.ca and basic.value.path_length == 0
        permitted = ca.extensions.get_extension_for_class(x509.NameConstraints).value.permitted_subtrees
        assert ipaddress.ip_network("192.168.0.0/16") in [n.value for n in permitted]
        assert all(not isinstance(n, x509.DNSName) or n.value == "localhost" for n in permitted)
        for name in (venue.CA_CERT_FILE, venue.CA_KEY_FILE, venue.SERVER_CERT_FILE, venue.SERVER_KEY_FILE):
            assert (instance / name).stat().st_mode & 0o777 == 0o600, name

        # what the server prints in a QR holds its https:// address: the printer test page, read as a camera would
        teller = Client(base, context)
        status, _ = teller.post("/login", {"username": "teller", "password": env["PASSWORD"]}, "/login")
        assert status == 200
        status, pdf = teller.get(f"/rounds/{round_id}/venue/test-page.pdf")
        assert status == 200 and pdf.startswith(b"%PDF")
        (tmp_path / "test-page.pdf").write_bytes(pdf)
        [found] = qr_texts(tmp_path / "test-page.pdf")
        assert len(found) == 1 and found[0].startswith(f"{base}/venue/printed/"), found
        # ...and a tablet opening it over HTTPS turns the checklist's printer item green
        assert b"printer-test" not in teller.get(f"/rounds/{round_id}/venue")[1]
        status, page = Client(base, context).get(found[0][len(base):])
        assert status == 200 and "máy in và địa chỉ trong mã QR đều đạt" in page.decode()
        checklist = teller.get(f"/rounds/{round_id}/venue")[1].decode()
        assert re.search(r'venue-ok" data-key="printer"', checklist), checklist

        # plain HTTP: the install page and the authority only; anything else redirected to HTTPS, a POST refused
        with urllib.request.urlopen(install + "/", timeout=20) as response:
            assert "Android" in response.read().decode()
        with urllib.request.urlopen(install + "/venue/ca.crt", timeout=20) as response:
            assert x509.load_der_x509_certificate(response.read()) == ca
        no_redirects = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,), {
            "redirect_request": lambda *args: None}))
        with pytest.raises(urllib.error.HTTPError) as moved:
            no_redirects.open(f"{install}/kiosk/{round_id}", timeout=20)
        moved.value.close()  # an HTTPError holds its connection: closed here, not by the garbage collector
        assert moved.value.code == 301 and moved.value.headers["Location"] == f"{base}/kiosk/{round_id}"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(f"{install}/api/v1/ballots", data=b"{}"), timeout=20)
        refused.value.close()
        assert refused.value.code == 403
    output = log.read_text()
    assert f"ballots printed from now on hold {base} in their QR codes" in output
    assert venue.fingerprint(ca) in output

    # the next run reuses the authority and the server certificate: the tablets install nothing again
    before = {name: (instance / name).read_bytes() for name in (venue.CA_CERT_FILE, venue.SERVER_CERT_FILE)}
    again = venue.ensure_certificates(instance, "127.0.0.1")
    assert again.created == ()
    assert {name: (instance / name).read_bytes() for name in before} == before
    # another address: a new server certificate from the same authority
    moved_to = venue.ensure_certificates(instance, "192.168.1.10")
    assert moved_to.created == (venue.SERVER_CERT_FILE, venue.SERVER_KEY_FILE)
    assert (instance / venue.CA_CERT_FILE).read_bytes() == before[venue.CA_CERT_FILE]


def test_gunicorn_refuses_plain_http_on_a_venue_address_unless_asked_for_with_a_warning(tmp_path):
    env = init_instance(f"sqlite:///{tmp_path / 'trustvote.db'}", tmp_path / "instance")
    port = free_port()
    command = [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "app:create_app()"]
    refused = subprocess.run(command, cwd=ROOT, env={**env, "TRUSTVOTE_BIND": f"0.0.0.0:{port}"},
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0
    assert "Refused: plain HTTP on 0.0.0.0" in refused.stderr and "make venue" in refused.stderr
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pytest.fail("something listens on the refused port")

    asked = subprocess.Popen(command, cwd=ROOT, env={**env, "TRUSTVOTE_BIND": f"0.0.0.0:{port}",
                                                      "TRUSTVOTE_PLAIN_HTTP": "1", "TRUSTVOTE_WORKERS": "1"},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert asked.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        os.killpg(asked.pid, signal.SIGTERM)
        output = asked.communicate(timeout=30)[0]
    assert "WARNING: plain HTTP on 0.0.0.0" in output and "in clear" in output


def test_make_run_passes_its_host_and_port_to_the_demo_and_the_server(tmp_path):
    """`PORT=5123 make run` (issue 12, item 5): both the demo's printed ballots (`trustvote demo`) and the server
    are started with TRUSTVOTE_BIND, from which the QR's address follows (app.settings.base_url_of_server). The
    commands are stand-ins that write down the address each would print."""
    fake = tmp_path / "bin"
    fake.mkdir()
    record = tmp_path / "record"
    probe = (f'{BIN / "python"} -c "from app.settings import Instance; print(\\"$0\\", Instance.from_env().base_url)"'
             f' >> {record}\n')
    for name in ("trustvote", "gunicorn", "pybabel"):
        (fake / name).write_text("#!/bin/sh\ncd " + str(ROOT) + " && " + probe)
        (fake / name).chmod(0o755)
    (fake / "python").write_text(f'#!/bin/sh\nexec {BIN / "python"} "$@"\n')
    (fake / "python").chmod(0o755)
    # make's install step runs against a venv of its own with a pip that does nothing: whether the real venv's
    # stamp is older than pyproject.toml (someone just edited it) must not matter, nor be touched
    (fake / "pip").write_text("#!/bin/sh\nexit 0\n")
    (fake / "pip").chmod(0o755)
    (tmp_path / "venv").mkdir()
    make_run = ["make", "-s", "run", f"BIN={fake}", f"VENV={tmp_path / 'venv'}"]
    env = clean_env(TRUSTVOTE_INSTANCE=str(tmp_path / "instance"), PORT="5123")
    done = subprocess.run(make_run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = record.read_text().splitlines()
    assert [line.split()[1] for line in lines if "/trustvote" in line.split()[0]] == ["http://127.0.0.1:5123"] * 2
    assert [line.split()[1] for line in lines if "/gunicorn" in line.split()[0]] == ["http://127.0.0.1:5123"]
    assert "ballots printed now hold http://127.0.0.1:5123 in their QR codes" in done.stdout
    # a server on every interface prints the laptop's address on the network, never the loopback
    env.update(HOST="0.0.0.0", PLAIN_HTTP="1", TRUSTVOTE_VENUE_ADDRESS="192.168.1.10")
    record.unlink()
    done = subprocess.run(make_run, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {line.split()[1] for line in record.read_text().splitlines() if "pybabel" not in line} == {
        "http://192.168.1.10:5123"}


@pytest.mark.parametrize(("qr", "browser", "problem"), [
    ("http://127.0.0.1:5000", "http://127.0.0.1:5000", venue.LOOPBACK),
    ("http://localhost:8080", "http://192.168.1.10:8080", venue.LOOPBACK),
    ("https://192.168.1.10:8443", "https://192.168.1.10:8443", None),
    ("https://192.168.1.10", "https://192.168.1.10:443", None),
    ("https://192.168.1.10:8443", "http://192.168.1.10:8443", venue.DIFFERENT),
    ("http://192.168.1.10:5000", "http://192.168.1.10:5123", venue.DIFFERENT),
    ("https://trustvote.example.vn", "https://TrustVote.example.vn", None),
])
def test_what_is_wrong_with_the_qr_address_before_printing(qr, browser, problem):
    assert venue.qr_address_problem(qr, browser) == problem
