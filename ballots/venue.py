"""The venue: one laptop on the venue's Wi-Fi serving the tablets over HTTPS, with a certificate authority of its own.

- Addresses: the laptop's address on the local network, the address a ballot's QR holds (`base_url_for`), and
  what is wrong with that address for a venue (`qr_address_problem`).
- Certificates (`ensure_certificates`): a local certificate authority, name-constrained to private and loopback
  addresses (installed on a tablet, it can vouch for nothing on the internet), and a server certificate for the
  laptop's address, signed by it. Kept in the instance folder (mode 600) and reused on the next run: the tablets
  install the authority once, and a new address only needs a new server certificate.
- Tablets (`record_tablet`, `tablets_seen`): what each kiosk page reports when it loads (a secure context, a
  camera), for the venue checklist.
- The board's practice for the paper sheet of a delegate who voted on a tablet (`PAPER_PRACTICES`).

No Flask here: the venue script (deploy/venue.py), the app and the tests share these functions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .errors import N_, InvalidInput
from .models import Round, VenueTablet, utcnow

CA_CERT_FILE = "venue-ca.pem"
CA_KEY_FILE = "venue-ca-key.pem"
SERVER_CERT_FILE = "venue-cert.pem"
SERVER_KEY_FILE = "venue-key.pem"

# The authority outlives a term's mid-term review (installed once on the tablets); the server certificate stays
# within the 398 days that Apple's and Chromium's verifiers accept for a server certificate, and is renewed by the
# next run once it has less than RENEW_BEFORE left.
CA_LIFETIME = dt.timedelta(days=3 * 365)
SERVER_LIFETIME = dt.timedelta(days=397)
RENEW_BEFORE = dt.timedelta(days=30)
# The only names the authority may vouch for: the private (RFC 1918) and loopback ranges, and the laptop's own
# name. A stolen laptop's authority cannot impersonate a bank to a tablet that installed it.
PRIVATE_NETWORKS = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8")]
CA_NAME = "TrustVote - cơ quan chứng thực của hội nghị"

# seconds after which a tablet's report no longer counts as "seen" on the checklist
TABLET_FRESH = dt.timedelta(hours=12)


# ---- addresses -----------------------------------------------------------------------------------------------
def local_address() -> str | None:
    """The laptop's address on the local network: the source address of its default route (a UDP socket's connect
    sends nothing). None without a network, or when the route is only the loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never reached, only routed
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if ipaddress.ip_address(address).is_loopback or address == "0.0.0.0" else address


def split_bind(bind: str) -> tuple[str, int]:
    """gunicorn's HOST:PORT ('[::1]:5000' for IPv6) as (host, port)."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"not HOST:PORT: {bind!r}")
    return host.strip("[]"), int(port)


def base_url_for(bind: str, *, https: bool, lan_address: str | None = None) -> str:
    """The address a ballot's QR holds when nobody set one: where the server listens, as a tablet reaches it. A
    server on every interface (0.0.0.0) is reached at the laptop's local address."""
    host, port = split_bind(bind)
    if host in ("0.0.0.0", "::", ""):
        host = lan_address or local_address() or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if https else "http"
    default_port = 443 if https else 80
    return f"{scheme}://{host}" + ("" if port == default_port else f":{port}")


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or (443 if scheme == "https" else 80)


LOOPBACK = "loopback"
DIFFERENT = "different"


def qr_address_problem(qr_base: str, browser_base: str) -> str | None:
    """What is wrong, for a venue, with the address printed in every QR, before the one-time print: LOOPBACK (a
    tablet opening it reaches itself, not the laptop), DIFFERENT (not the address this browser reached the server
    at, so maybe not one the tablets reach either), or None."""
    qr = _origin(qr_base)
    if is_loopback_host(qr[1]):
        return LOOPBACK
    if qr != _origin(browser_base):
        return DIFFERENT
    return None


def is_venue_host(host: str) -> bool:
    """Whether a server listening on `host` is reachable from the venue's network (not only from the laptop)."""
    return host in ("0.0.0.0", "::", "") or not is_loopback_host(host)


# ---- certificates --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Certificates:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    address: str
    created: tuple[str, ...]  # which files this run made (the rest were reused)

    @property
    def ca_fingerprint(self) -> str:
        """SHA-256 of the authority's certificate, grouped for reading aloud against a tablet's settings."""
        return fingerprint(x509.load_pem_x509_certificate(self.ca_cert.read_bytes()))

    @property
    def spki_hash(self) -> str:
        """base64 SHA-256 of the server key's SubjectPublicKeyInfo (what Chromium's
        --ignore-certificate-errors-spki-list takes)."""
        return spki_hash(x509.load_pem_x509_certificate(self.server_cert.read_bytes()))


def fingerprint(cert: x509.Certificate) -> str:
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def spki_hash(cert: x509.Certificate) -> str:
    import base64

    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def _write_private(path: Path, data: bytes) -> None:
    """Written with mode 600 from the start, replacing any older file atomically."""
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load(cert_path: Path, key_path: Path):
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (FileNotFoundError, ValueError, TypeError):
        return None, None
    return cert, key


def _still_valid(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > RENEW_BEFORE


def _ip_or_dns(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _new_ca(now: dt.datetime, address: str):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TrustVote")])
    permitted: list[x509.GeneralName] = [x509.IPAddress(network) for network in PRIVATE_NETWORKS]
    permitted.append(x509.DNSName("localhost"))
    chosen = _ip_or_dns(address)
    if isinstance(chosen, x509.DNSName) or not any(chosen.value in n for n in PRIVATE_NETWORKS):
        # a venue on a public address or a name: the authority may vouch for that one name too, nothing more
        permitted.append(chosen if isinstance(chosen, x509.DNSName)
                         else x509.IPAddress(ipaddress.ip_network(chosen.value)))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _ca_covers(ca: x509.Certificate, address: str) -> bool:
    """Whether the authority's name constraints allow a certificate for `address`."""
    constraints = ca.extensions.get_extension_for_class(x509.NameConstraints).value
    chosen = _ip_or_dns(address)
    for subtree in constraints.permitted_subtrees or []:
        if isinstance(chosen, x509.IPAddress) and isinstance(subtree, x509.IPAddress):
            if chosen.value in subtree.value:
                return True
        elif isinstance(chosen, x509.DNSName) and isinstance(subtree, x509.DNSName):
            if chosen.value.lower() == subtree.value.lower():
                return True
    return False


def _new_server(now: dt.datetime, address: str, ca: x509.Certificate, ca_key):
    key = ec.generate_private_key(ec.SECP256R1())
    names = [_ip_or_dns(address)]
    if address != "127.0.0.1":
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))  # the laptop's own browser, too
    cert = (x509.CertificateBuilder()
            # no common name: verifiers that read a CN as a host name (OpenSSL) would check "192.168.1.10" against
            # the authority's DNS constraints and refuse it; the names are the subject alternative names alone
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TrustVote")]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + SERVER_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def _names_of(cert: x509.Certificate) -> set[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(name.value) for name in san}


def ensure_certificates(instance: Path, address: str, *, now: dt.datetime | None = None) -> Certificates:
    """The authority and a server certificate for `address` in the instance folder: the ones there are reused while
    valid (and, for the server's, while it names `address` and was signed by this authority); anything missing,
    expiring or for another address is made anew. Files are mode 600."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if address.replace(".", "").isdigit():
        ipaddress.ip_address(address)  # "192.168.1" raises ValueError here rather than naming a DNS host "192.168.1"
    instance.mkdir(parents=True, exist_ok=True)
    paths = {name: instance / name for name in (CA_CERT_FILE, CA_KEY_FILE, SERVER_CERT_FILE, SERVER_KEY_FILE)}
    created: list[str] = []
    ca, ca_key = _load(paths[CA_CERT_FILE], paths[CA_KEY_FILE])
    if ca is None or not _still_valid(ca, now) or not _ca_covers(ca, address):
        ca, ca_key = _new_ca(now, address)
        _write_private(paths[CA_KEY_FILE], _key_pem(ca_key))
        _write_private(paths[CA_CERT_FILE], ca.public_bytes(serialization.Encoding.PEM))
        created += [CA_CERT_FILE, CA_KEY_FILE]
    server, _key = _load(paths[SERVER_CERT_FILE], paths[SERVER_KEY_FILE])
    if (server is None or CA_CERT_FILE in created or not _still_valid(server, now)
            or address not in _names_of(server) or server.issuer != ca.subject):
        server, key = _new_server(now, address, ca, ca_key)
        _write_private(paths[SERVER_KEY_FILE], _key_pem(key))
        _write_private(paths[SERVER_CERT_FILE], server.public_bytes(serialization.Encoding.PEM))
        created += [SERVER_CERT_FILE, SERVER_KEY_FILE]
    return Certificates(paths[CA_CERT_FILE], paths[SERVER_CERT_FILE], paths[SERVER_KEY_FILE], address,
                        tuple(created))


def ca_certificate(instance: Path) -> x509.Certificate | None:
    """The venue's authority, if `make venue` made one for this instance."""
    try:
        return x509.load_pem_x509_certificate((instance / CA_CERT_FILE).read_bytes())
    except (FileNotFoundError, ValueError):
        return None


# ---- tablets ---------------------------------------------------------------------------------------------------
def record_tablet(session: Session, *, address: str, secure: bool, camera: bool,
                  now: dt.datetime | None = None) -> None:
    """Remember what the kiosk page at `address` reported: one row per address, the latest report. Flushes."""
    now = now or utcnow()
    row = session.get(VenueTablet, address[:64])
    if row is None:
        session.execute(delete(VenueTablet).where(VenueTablet.seen_at < now - TABLET_FRESH))
        session.add(VenueTablet(address=address[:64], secure=secure, camera=camera, seen_at=now))
    else:
        row.secure, row.camera, row.seen_at = secure, camera, now
    session.flush()


def tablets_seen(session: Session, *, now: dt.datetime | None = None) -> list[VenueTablet]:
    """The tablets whose kiosk page reported within TABLET_FRESH, by address."""
    since = (now or utcnow()) - TABLET_FRESH
    rows = session.scalars(select(VenueTablet).where(VenueTablet.seen_at >= since)).all()
    return sorted(rows, key=lambda row: _address_key(row.address))


def _address_key(address: str):
    try:
        return (0, ipaddress.ip_address(address))
    except ValueError:
        return (1, address)


# ---- the paper sheet after a tablet vote ---------------------------------------------------------------------
# What the kiosk tells a delegate once their tablet ballot is recorded: the sheet of a ballot cast on a tablet
# must not reach the box (at the count it would be a duplicate of a code already used).
PAPER_PRACTICES = {
    "board": N_("Hand your paper ballot back to the counting board. Do not put it in the ballot box."),
    "tray": N_("Put your paper ballot in the tray for used sheets beside the ballot box, not in the box."),
}
PAPER_PRACTICE_NAMES = {
    "board": N_("Handed back to the counting board"),
    "tray": N_("Put in the tray for used sheets beside the box"),
}


def set_paper_practice(session: Session, round_: Round, practice: str) -> None:
    """Set what the kiosk tells a delegate to do with the paper sheet after a tablet vote. It changes no count, so
    it may change until voting closes. Flushes."""
    from .lifecycle import RoundState

    if practice not in PAPER_PRACTICES:
        raise InvalidInput(N_("Choose what delegates do with the paper sheet after voting on a tablet."))
    if round_.state not in (RoundState.DRAFT, RoundState.ISSUED, RoundState.OPEN):
        raise InvalidInput(N_("Voting is closed: what the tablets told delegates can no longer change."))
    round_.paper_after_tablet = practice
    session.flush()


# ---- the printer test page -----------------------------------------------------------------------------------
def printer_checked(session: Session, round_: Round, *, now: dt.datetime | None = None) -> bool:
    """A tablet opened the QR of the round's printer test page: the printer prints QR codes a tablet reads, and
    the address they hold reaches this server. Remembers the first time; returns whether this was it. Flushes."""
    if round_.printer_checked_at is not None:
        return False
    round_.printer_checked_at = now or utcnow()
    session.flush()
    return True
