"""The deployment as shipped: `trustvote init`, then gunicorn with deploy/gunicorn.conf.py serves the app."""

from __future__ import annotations

from tests.reliability.helpers import Gunicorn, fetch, init_instance


def test_gunicorn_with_the_shipped_config_serves_the_app(db_url, tmp_path):
    instance = tmp_path / "instance"
    env = init_instance(db_url, instance)
    assert (instance / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (instance / "signing_key.pem").stat().st_mode & 0o777 == 0o600

    log = tmp_path / "gunicorn.log"
    with Gunicorn(env, log) as server:
        status, headers, body = fetch(f"{server.base}/login")
        assert status == 200, body
        assert 'lang="vi"' in body
        assert "Đăng nhập" in body
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"

        status, _, _ = fetch(f"{server.base}/login?secret=abc123")
        assert status == 200
        server.stop()  # gracefully, so that its log is complete

    assert server.process.returncode == 0, log.read_text()
    output = log.read_text()
    assert '"GET /login"' in output, output
    assert "abc123" not in output, output
