"""The two forms every record that leaves the process is written in: canonical JSON and UTC time stamps.

Canonical JSON is what the audit chain hashes, what a result's Ed25519 signature covers and what the verifier
recomputes: keys sorted, no whitespace (separators "," and ":"), non-ASCII characters written as raw UTF-8
(never "\\u" escapes). A time stamp is UTC to the second, written "YYYY-MM-DDTHH:MM:SSZ".
"""

from __future__ import annotations

import datetime as dt
import json

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def canonical_json(value) -> str:
    """The one serialisation hashed and signed: sorted keys, no spaces, UTF-8 characters kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; every time stored here is UTC."""
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def utc_stamp(moment: dt.datetime) -> str:
    """A moment as the records write it: UTC, to the second, e.g. 2027-05-14T02:30:00Z."""
    return as_utc(moment).strftime(STAMP)


def day_text(day: dt.date) -> str:
    """A day as Vietnamese documents write it, for a refusal's message: 30/06/2025."""
    return day.strftime("%d/%m/%Y")
