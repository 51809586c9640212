"""Settings, read once from the environment into a frozen object. Keys come from the instance folder."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SECRET_KEY_FILE = "secret_key"
SIGNING_KEY_FILE = "signing_key.pem"


class MissingKeys(RuntimeError):
    """The instance has no keys yet: `trustvote init` creates them (never done silently at import)."""


@dataclass(frozen=True)
class Settings:
    instance_path: Path
    database_url: str
    secret_key: str
    base_url: str
    secure_cookies: bool
    proxy_hops: int
    max_upload_bytes: int = 8 * 1024 * 1024

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        instance = instance_from_env(env)
        database_url = database_url_from_env(env)
        secret_key = env.get("TRUSTVOTE_SECRET_KEY") or _read_key(instance / SECRET_KEY_FILE)
        base_url = base_url_from_env(env)
        secure = env.get("TRUSTVOTE_SECURE_COOKIES", "1" if base_url.startswith("https://") else "0") == "1"
        return cls(
            instance_path=instance,
            database_url=database_url,
            secret_key=secret_key,
            base_url=base_url,
            secure_cookies=secure,
            proxy_hops=int(env.get("TRUSTVOTE_PROXY_HOPS", "0")),
        )

    @property
    def signing_key_path(self) -> Path:
        return self.instance_path / SIGNING_KEY_FILE


def instance_from_env(env=None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("TRUSTVOTE_INSTANCE", "instance")).resolve()


def database_url_from_env(env=None) -> str:
    """The database URL; without TRUSTVOTE_DATABASE_URL, SQLite in the instance folder."""
    env = os.environ if env is None else env
    return env.get("TRUSTVOTE_DATABASE_URL") or f"sqlite:///{instance_from_env(env) / 'trustvote.db'}"


def base_url_from_env(env=None) -> str:
    """The address delegates' tablets reach the app at: it is printed in every ballot's QR code."""
    env = os.environ if env is None else env
    return env.get("TRUSTVOTE_BASE_URL", "http://127.0.0.1:5000").rstrip("/")


def _read_key(path: Path) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise MissingKeys(
            f"No secret key at {path}. Run `trustvote init` to create the instance's keys "
            "(or set TRUSTVOTE_SECRET_KEY)."
        ) from None


def _write_private(path: Path, data: bytes) -> None:
    # created with mode 600 from the start: the key is never readable by others, not even for an instant
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_instance(instance: Path) -> list[Path]:
    """Create the instance folder and any missing key (mode 600). Returns the files created; keeps existing keys."""
    instance.mkdir(parents=True, exist_ok=True)
    os.chmod(instance, 0o700)
    created = []
    secret = instance / SECRET_KEY_FILE
    if not secret.exists():
        _write_private(secret, secrets.token_urlsafe(48).encode())
        created.append(secret)
    signing = instance / SIGNING_KEY_FILE
    if not signing.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        _write_private(signing, pem)
        created.append(signing)
    return created
