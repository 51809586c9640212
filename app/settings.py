"""Settings, read once from the environment into frozen objects. Keys come from the instance folder.

`Instance` is what needs no key (the folder, the database, the address tablets reach): the CLI's set-up and
database commands run before any key exists. `Settings` adds the keys, loaded and checked here, so that the app
refuses to start without them rather than failing at the first seal.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ballots import signing, venue

SECRET_KEY_FILE = "secret_key"
SIGNING_KEY_FILE = "signing_key.pem"
# the key that authenticates the audit chain (ballots.audit), and the sequence number from which it does:
# "<base64 of 32 bytes> <sequence number>", one line
AUDIT_KEY_FILE = "audit_key"
# the audit head the last `trustvote audit verify` found intact: "<sequence number> <hash>" (a later chain must
# still hold it: cutting the chain back to an older head is caught)
AUDIT_ANCHOR_FILE = "audit_anchor"


class MissingKeys(RuntimeError):
    """The instance has no keys yet: `trustvote init` creates them (never done silently at import)."""


class UnusableKey(MissingKeys):
    """A key file is there but holds no usable key: replacing it would change the instance's signature, so the
    app stops and says so rather than guessing."""


@dataclass(frozen=True)
class Instance:
    """Where the instance lives: its folder, its database, and the address delegates' tablets reach it at."""

    instance_path: Path
    database_url: str
    base_url: str  # printed in every ballot's QR code

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Instance":
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("TRUSTVOTE_INSTANCE", "instance")).resolve()
        return cls(
            instance_path=instance,
            # without TRUSTVOTE_DATABASE_URL, SQLite in the instance folder
            database_url=env.get("TRUSTVOTE_DATABASE_URL") or f"sqlite:///{instance / 'trustvote.db'}",
            base_url=(env.get("TRUSTVOTE_BASE_URL") or base_url_of_server(env)).rstrip("/"),
        )

    @property
    def signing_key_path(self) -> Path:
        return self.instance_path / SIGNING_KEY_FILE


@dataclass(frozen=True)
class Settings(Instance):
    """The instance, its keys, and how the app is served."""

    secret_key: str = field(repr=False)
    signing_key: Ed25519PrivateKey = field(repr=False)
    audit_key: bytes = field(repr=False)
    audit_since: int  # entries up to this sequence number were written before the instance had its audit key
    secure_cookies: bool
    proxy_hops: int
    max_upload_bytes: int = 8 * 1024 * 1024
    # how gunicorn serves the app (deploy/gunicorn.conf.py reads the same variables): app.limits sizes its
    # per-process limits on costly work from these
    workers: int = 2
    threads: int = 32

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Raises MissingKeys (or UnusableKey) when a key is missing or unusable."""
        env = dict(os.environ if env is None else env)
        instance = Instance.from_env(env)
        default_secure = "1" if instance.base_url.startswith("https://") else "0"
        return cls(
            **{f.name: getattr(instance, f.name) for f in fields(Instance)},
            secret_key=env.get("TRUSTVOTE_SECRET_KEY") or _read_key(instance.instance_path / SECRET_KEY_FILE),
            signing_key=load_signing_key(instance.signing_key_path),
            **dict(zip(("audit_key", "audit_since"), load_audit_key(instance.instance_path / AUDIT_KEY_FILE))),
            secure_cookies=env.get("TRUSTVOTE_SECURE_COOKIES", default_secure) == "1",
            proxy_hops=int(env.get("TRUSTVOTE_PROXY_HOPS", "0")),
            workers=int(env.get("TRUSTVOTE_WORKERS") or min(os.cpu_count() or 1, 4)),
            threads=int(env.get("TRUSTVOTE_THREADS") or 32),
        )


def base_url_of_server(env: dict[str, str]) -> str:
    """The address in the QR when TRUSTVOTE_BASE_URL is unset: how the server was started (`make run` and
    `make venue` pass gunicorn's TRUSTVOTE_BIND, and TRUSTVOTE_CERTFILE when it serves HTTPS), so that
    `PORT=8080 make run` prints :8080 and a server on 0.0.0.0 prints the laptop's address on the network."""
    bind = env.get("TRUSTVOTE_BIND")
    if not bind:
        return "http://127.0.0.1:5000"
    return venue.base_url_for(bind, https=bool(env.get("TRUSTVOTE_CERTFILE")),
                              lan_address=env.get("TRUSTVOTE_VENUE_ADDRESS") or None)


def _read_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise MissingKeys(
            f"No secret key at {path}. Run `trustvote init` to create the instance's keys "
            "(or set TRUSTVOTE_SECRET_KEY)."
        ) from None


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The instance's Ed25519 signing key. Raises MissingKeys without the file, UnusableKey if it holds no
    unencrypted Ed25519 private key."""
    try:
        return signing.load_private_key(path)
    except FileNotFoundError:
        raise MissingKeys(f"No signing key at {path}. Run `trustvote init` to create the instance's keys.") from None
    except (ValueError, TypeError) as exc:  # not PEM, another kind of key, or a passphrase-protected one
        raise UnusableKey(f"The signing key at {path} cannot be used: {exc}") from None


def load_audit_key(path: Path) -> tuple[bytes, int]:
    """The audit key and the sequence number from which it authenticates the chain. Raises MissingKeys without
    the file, UnusableKey if it is not what `init_instance` wrote."""
    try:
        encoded, since = path.read_text().split()
        key, since = base64.b64decode(encoded, validate=True), int(since)
    except FileNotFoundError:
        raise MissingKeys(f"No audit key at {path}. Run `trustvote init` to create the instance's keys.") from None
    except ValueError as exc:
        raise UnusableKey(f"The audit key at {path} cannot be used: {exc}") from None
    if len(key) != 32 or since < 0:
        raise UnusableKey(f"The audit key at {path} cannot be used: not 32 bytes and a sequence number")
    return key, since


def _write_private(path: Path, data: bytes) -> None:
    # created with mode 600 from the start: the key is never readable by others, not even for an instant
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_instance(instance: Path, *, audit_since: int = 0) -> list[Path]:
    """Create the instance folder and any missing key (mode 600). Returns the files created; keeps existing keys.
    `audit_since`: for a database that already has audit entries, the last one's sequence number (the new audit
    key authenticates the entries after it)."""
    instance.mkdir(parents=True, exist_ok=True)
    os.chmod(instance, 0o700)
    created = []
    secret = instance / SECRET_KEY_FILE
    if not secret.exists():
        _write_private(secret, secrets.token_urlsafe(48).encode())
        created.append(secret)
    signing_key = instance / SIGNING_KEY_FILE
    if not signing_key.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        _write_private(signing_key, pem)
        created.append(signing_key)
    audit_key = instance / AUDIT_KEY_FILE
    if not audit_key.exists():
        _write_private(audit_key, f"{base64.b64encode(secrets.token_bytes(32)).decode()} {audit_since}\n".encode())
        created.append(audit_key)
    return created
