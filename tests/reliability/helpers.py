"""What the reliability tests share: a database set up once for a module, and a real gunicorn to cast through."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from ballots import accounts
from ballots.db import make_engine
from tests.conftest import _reset_postgres

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def module_database(request, tmp_path_factory):
    """Like the `db_url` and `engine` fixtures, for a module-scoped fixture parametrized by engine name: an empty,
    migrated database and an engine whose sessions read without taking SQLite's write lock. Returns (url, engine).

    For scenarios too slow to repeat for each test (300 casts, a crash): set up once, looked at by several tests.
    """
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "trustvote.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_ready")
        _reset_postgres(url)
    return url, make_engine(url).execution_options(sqlite_begin="DEFERRED")


@contextlib.contextmanager
def quick_password_hashing():
    """What the suite's autouse fixture does for each test, for a module-scoped fixture's accounts."""
    with pytest.MonkeyPatch.context() as patch:
        quick = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        patch.setattr(accounts, "_hasher", quick)
        patch.setattr(accounts, "_DUMMY_HASH", quick.hash("not a password"))
        yield


# --- a real server -----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTVOTE_")}
    env.update(extra)
    return env


def init_instance(db_url: str, instance: Path) -> dict[str, str]:
    """`trustvote init` as an operator runs it; returns the environment the server runs with."""
    env = clean_env(TRUSTVOTE_INSTANCE=str(instance), TRUSTVOTE_DATABASE_URL=db_url)
    done = subprocess.run([str(BIN / "trustvote"), "init"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def instance_sessions(engine, instance: Path):
    """Sessions on `engine` whose audit entries and ballot boxes are authenticated with the instance's audit key,
    as the server's are (run `init_instance` first): a round the server is to cast in must be built with them."""
    from app.settings import AUDIT_KEY_FILE, load_audit_key
    from ballots.db import make_sessionmaker

    key, _since = load_audit_key(instance / AUDIT_KEY_FILE)
    return make_sessionmaker(engine, audit_key=key)


def post_json(url: str, body: dict, timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _json(error.read())


def _json(data: bytes) -> dict:
    try:
        return json.loads(data)
    except ValueError:
        return {"body": data.decode("utf-8", "replace")}


def fetch(url: str, timeout: float = 5) -> tuple[int, dict[str, str], str]:
    """A GET's status, headers and body, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def get(url: str, timeout: float = 5) -> int:
    return fetch(url, timeout)[0]


class Gunicorn:
    """gunicorn with deploy/gunicorn.conf.py, in a process group of its own (so that the master and its workers
    can be killed together), its output appended to `log`. Use as a context manager: whatever happens, the
    whole group is killed and reaped on the way out, and the log file is closed."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 2, app: str = "app:create_app()"):
        self.port = free_port()
        self.app = app  # the WSGI app to serve (a test's deliberately broken control serves its own)
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "TRUSTVOTE_BIND": f"127.0.0.1:{self.port}", "TRUSTVOTE_WORKERS": str(workers),
                    "TRUSTVOTE_ACCESS_LOG": "-"}
        self.log = log
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        with self.log.open("ab") as log_file:  # the child has its own copy of the descriptor
            self.process = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", self.app],
                cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self.wait_until_serving()
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.kill()

    def wait_until_serving(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                get(f"{self.base}/api/v1/openapi.json", timeout=1)
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not answer within {seconds} s:\n{self.log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the master and every worker at once, and reap the master."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        """A graceful stop (SIGTERM to the master, which stops its workers), so the logs are complete."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
