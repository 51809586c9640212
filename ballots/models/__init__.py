"""The tables: typed SQLAlchemy 2 models, one module per part of the domain, every name importable from here."""

from .base import Base, utcnow
from .people import ROLES, Account, Committee, Grant, LoginFailure, LoginSession, Membership, Person
from .records import (
    Approval,
    AuditEntry,
    AuditHead,
    ImportedResult,
    PaperEntry,
    Publication,
    Result,
    ResultSummary,
    SetAside,
    SheetRuling,
    TrustedKey,
)
from .rounds import Ballot, BoardMember, Candidate, Conference, IssueBatch, KioskFailure, Round, Token

__all__ = [
    "ROLES", "Account", "Approval", "AuditEntry", "AuditHead", "Ballot", "Base", "BoardMember", "Candidate",
    "Committee", "Conference", "Grant", "ImportedResult", "IssueBatch", "KioskFailure", "LoginFailure",
    "LoginSession", "Membership", "PaperEntry", "Person", "Publication", "Result", "ResultSummary", "Round",
    "SetAside", "SheetRuling", "Token", "TrustedKey", "utcnow",
]
