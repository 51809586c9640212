"""Text typed by a person, as the domain keeps it: on one line, single-spaced, required, of bounded length."""

from __future__ import annotations

from .errors import N_, InvalidInput


def one_line(text: str | None) -> str:
    """The text with every run of whitespace (newlines and tabs too) made one space, trimmed."""
    return " ".join((text or "").split())


def clean(text: str | None, what: str, limit: int) -> str:
    """A required field (`what` names it in the refusal) on one line, at most `limit` characters.
    Raises InvalidInput."""
    value = one_line(text)
    if not value:
        raise InvalidInput(N_("%(field)s is required."), field=what)
    if len(value) > limit:
        raise InvalidInput(N_("%(field)s is longer than %(limit)s characters."), field=what, limit=limit)
    return value
