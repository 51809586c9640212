"""The deployment as shipped: `trustvote init`, then gunicorn with deploy/gunicorn.conf.py serves the app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUSTVOTE_")}
    env.update(extra)
    return env


def _get(url: str, timeout: float = 5) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            _get(url, timeout=1)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer within {seconds} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_gunicorn_with_the_shipped_config_serves_the_app(db_url, tmp_path):
    instance = tmp_path / "instance"
    env = _clean_env(TRUSTVOTE_INSTANCE=str(instance), TRUSTVOTE_DATABASE_URL=db_url)
    init = subprocess.run([str(BIN / "trustvote"), "init"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (instance / "signing_key.pem").stat().st_mode & 0o777 == 0o600

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    gunicorn_env = {**env, "TRUSTVOTE_BIND": f"127.0.0.1:{port}", "TRUSTVOTE_WORKERS": "2",
                    "TRUSTVOTE_ACCESS_LOG": "-"}
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py", "app:create_app()"],
            cwd=ROOT, env=gunicorn_env, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(f"{base}/login", process, log)

            status, headers, body = _get(f"{base}/login")
            assert status == 200, body
            assert 'lang="vi"' in body
            assert "Đăng nhập" in body
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
            assert headers["Referrer-Policy"] == "no-referrer"
            assert headers["X-Content-Type-Options"] == "nosniff"

            status, _, _ = _get(f"{base}/login?secret=abc123")
            assert status == 200
        finally:
            _stop(process)

    assert process.returncode == 0, log.read_text()
    output = log.read_text()
    assert '"GET /login"' in output, output
    assert "abc123" not in output, output
