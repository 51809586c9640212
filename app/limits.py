"""Per-process limits on costly work, so that no flood of requests can exhaust a server process's memory or
threads, nor stop the casts that share them.

Each kind of costly work passes a gate sized from how gunicorn serves the app (Settings.workers and .threads,
which deploy/gunicorn.conf.py reads from the same variables):

- hashing a password (argon2id, 64 MiB and a core for about a tenth of a second each): `hashing`;
- decoding a camera frame (app.kiosk.api's /scan): `decoding`;
- reading an upload (a request body over UPLOAD_BYTES outside the kiosk's API: a roster, a result bundle): `uploads`,
  entered before anything reads the body (the first before_request hook, before CSRF parses the form);
- holding back the answer to a code that matched no ballot (app.kiosk.tablets): `held_answers`.

A gate lets `slots` requests in at once and `queue` more wait up to `wait` seconds; any other is answered at once
503 with Retry-After (ServerBusy), without touching the work. Together the gates can occupy at most
`occupied_threads()` of a process's threads: the rest stay free for casts.
"""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass

from flask import Flask, current_app, g, request

from ballots.errors import ServerBusy

UPLOAD_BYTES = 64 * 1024  # a body larger than this is an upload (a login form or a cast is a few hundred bytes)
# a file of scanned ballots (app.count.scans): a scanner's PDF of a few dozen pages at 300 dpi; its own gate, since
# reading its pages takes seconds and must not hold up a roster or a bundle (nor they it)
SCAN_BYTES = 48 * 1024 * 1024
SCAN_ENDPOINTS = frozenset({"count.upload_scans"})


class Gate:
    """At most `slots` holders at once in this process; up to `queue` more wait at most `wait` seconds for a slot;
    any other is refused with ServerBusy (503, Retry-After) at once."""

    def __init__(self, name: str, *, slots: int, queue: int, wait: float) -> None:
        self.name, self.slots, self.queue, self.wait = name, slots, queue, wait
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._waiting = 0

    @contextmanager
    def __call__(self):
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self.queue:
                    raise ServerBusy(seconds=max(1, round(self.wait)))
                self._waiting += 1
            try:
                entered = self._slots.acquire(timeout=self.wait)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not entered:
                raise ServerBusy(seconds=max(1, round(self.wait)))
        try:
            yield
        finally:
            self._slots.release()

    def try_hold(self, seconds: float) -> bool:
        """Sleep `seconds` holding a slot, without waiting for one: False at once if every slot is taken."""
        if not self._slots.acquire(blocking=False):
            return False
        try:
            time.sleep(seconds)
        finally:
            self._slots.release()
        return True


@dataclass(frozen=True)
class Limits:
    """The gates' sizes for a process of `threads` threads on a machine where `workers` processes share the
    cores."""

    cores: int
    workers: int
    threads: int

    @property
    def cores_per_worker(self) -> int:
        return max(1, self.cores // max(1, self.workers))

    def gates(self) -> dict[str, Gate]:
        per_core = min(2, self.cores_per_worker)
        return {
            # argon2id takes its 64 MiB and a core: one or two at once, a few waiting a moment
            "hashing": Gate("hashing", slots=per_core, queue=4, wait=5.0),
            # a frame is decoded in a few tens of milliseconds; a tablet sends the next one 350 ms later anyway
            "decoding": Gate("decoding", slots=per_core, queue=2, wait=1.0),
            # a roster of 20,000 rows is read in a few seconds: one at a time, one waiting
            "uploads": Gate("uploads", slots=1, queue=1, wait=10.0),
            # a file of scanned ballots: its pages decoded and read one at a time (a page in memory each, tens of
            # MB at 300 dpi), a core each; the board's other tellers' files wait their turn a while
            "scans": Gate("scans", slots=per_core, queue=4, wait=60.0),
            "held_answers": Gate("held_answers", slots=max(2, self.threads // 8), queue=0, wait=0.0),
        }

    def occupied_threads(self) -> int:
        return sum(gate.slots + gate.queue for gate in self.gates().values())


def gate(name: str):
    """The current app's gate of that name (a context manager: `with gate("hashing"): ...`)."""
    return current_app.extensions["trustvote.gates"][name]


def _is_upload() -> bool:
    if request.method not in ("POST", "PUT", "PATCH") or request.path.startswith("/api/"):
        return False
    length = request.content_length
    if length is None:  # a body sent in chunks says nothing of its size: an upload until read
        return "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    return length > UPLOAD_BYTES


def init_app(app: Flask) -> None:
    """The app's gates, and the uploads gate entered before any other hook reads a request body: call before
    CSRF protection is set up (app.security)."""
    import os

    settings = app.config["TRUSTVOTE"]
    limits = Limits(cores=os.cpu_count() or 1, workers=settings.workers, threads=settings.threads)
    app.extensions["trustvote.limits"] = limits
    app.extensions["trustvote.gates"] = limits.gates()

    @app.before_request
    def enter_uploads_gate():
        scans = request.endpoint in SCAN_ENDPOINTS
        if scans:
            request.max_content_length = SCAN_BYTES  # before anything (CSRF) reads the body
        if _is_upload() or (scans and request.method == "POST"):
            stack = ExitStack()
            # raises ServerBusy: answered 503 before the body is read
            stack.enter_context(gate("scans" if scans else "uploads")())
            g.upload_gate = stack

    @app.teardown_request
    def leave_uploads_gate(_exc):
        stack = g.pop("upload_gate", None)
        if stack is not None:
            stack.close()
