"""gunicorn settings for TrustVote: `gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'`.

Bind with TRUSTVOTE_BIND (default 127.0.0.1:8000: nginx in front, never exposed directly). HTTPS with
TRUSTVOTE_CERTFILE and TRUSTVOTE_KEYFILE (`make venue`, deploy/venue.py). Plain HTTP on an address other than the
loopback is refused at start unless TRUSTVOTE_PLAIN_HTTP=1 (or a proxy in front terminates TLS:
TRUSTVOTE_PROXY_HOPS).
"""

import multiprocessing
import os

bind = os.environ.get("TRUSTVOTE_BIND", "127.0.0.1:8000")
certfile = os.environ.get("TRUSTVOTE_CERTFILE") or None
keyfile = os.environ.get("TRUSTVOTE_KEYFILE") or None
# One process a core, each with a pool of threads: a cast waits mostly for its commit to reach the disk, and the
# casts waiting together in a process share one commit (app/kiosk/group_commit.py), which needs them in one process.
# Capped: SQLite serialises writers anyway, and 4 processes of at most 15 pooled connections each stay within
# PostgreSQL's default 100 (more casting capacity is more instances behind nginx, each with its own limit).
workers = int(os.environ.get("TRUSTVOTE_WORKERS", min(multiprocessing.cpu_count(), 4)))
worker_class = "gthread"
threads = int(os.environ.get("TRUSTVOTE_THREADS", 32))
# the app reads the same two variables to size its per-process limits on password hashing, frame decoding, uploads
# and held answers (app/limits.py): they take at most 14 of the 32 threads, the rest stay free for casts
timeout = 60
graceful_timeout = 20
keepalive = 5
# an upload bigger than the app's own limit is refused there; these bound the request line and headers
limit_request_line = 8190
limit_request_fields = 100
max_requests = 5000
max_requests_jitter = 500
# the app is loaded once, in the master, and each worker forked from it: a worker recycled by max_requests is
# back at once instead of importing everything again while its share of the tablets wait (create_app opens no
# connection, so no socket is shared across the fork). New code then needs `systemctl restart`, as
# deploy/README.md says, not a reload (HUP)
preload_app = True
# The access log never carries a query string: ballot secrets travel in URL fragments and bodies only, and
# nothing else in a query needs keeping. %(U)s is the path alone.
accesslog = os.environ.get("TRUSTVOTE_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
errorlog = "-"
loglevel = "info"
# gunicorn >= 25.1 opens a runtime control socket in $HOME/.gunicorn by default: shared by every instance of
# the same user, and nothing here needs it (older versions ignore the setting)
control_socket_disable = True
forwarded_allow_ips = os.environ.get("TRUSTVOTE_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_fork(server, worker):
    # A thread waiting for the database gets the interpreter back sooner: the default 5 ms turn of the other
    # threads would be added to every statement of a cast's transaction, which holds the locks other casts wait for
    import sys

    sys.setswitchinterval(0.0005)


PLAIN_HTTP_REFUSED = """
  Refused: plain HTTP on {host}, an address the venue's network reaches.
  Ballot codes, marks and passwords would cross the Wi-Fi in clear, readable by anyone who knows its passphrase,
  and the tablets' camera cannot be used in the page. Serve HTTPS instead:
      make venue                       (the laptop's address found, a certificate made for it)
  Or, knowing all this, ask for plain HTTP explicitly:
      PLAIN_HTTP=1 HOST={host} make run
"""
PLAIN_HTTP_WARNING = """
  WARNING: plain HTTP on {host}, as asked (TRUSTVOTE_PLAIN_HTTP=1). Ballot codes, marks and passwords cross the
  network in clear, and the tablets' camera cannot be used in the page. `make venue` serves HTTPS.
"""


def on_starting(server):
    # Checked before anything listens: whoever can join the venue's Wi-Fi could read every ballot served in clear
    from ballots.venue import is_venue_host, split_bind

    if server.cfg.certfile or int(os.environ.get("TRUSTVOTE_PROXY_HOPS") or 0) > 0:
        return
    exposed = [host for host, _port in (split_bind(b) for b in server.cfg.bind if not b.startswith("unix:"))
               if is_venue_host(host)]
    if not exposed:
        return
    if os.environ.get("TRUSTVOTE_PLAIN_HTTP") == "1":
        server.log.warning(PLAIN_HTTP_WARNING.format(host=exposed[0]))
        return
    server.log.error(PLAIN_HTTP_REFUSED.format(host=exposed[0]))
    raise SystemExit(3)
