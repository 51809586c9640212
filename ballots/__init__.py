"""The trust-vote domain: committees, rounds, rule sets, ballots, counting. Never imports Flask."""

__version__ = "0.1.0"
