"""The tables: typed SQLAlchemy 2 models, one module per part of the domain, every name importable from here."""

from .base import Base, utcnow
from .people import (
    ROLES,
    Account,
    Committee,
    CommitteeFormer,
    CommitteeOrigin,
    Grant,
    KnownAs,
    LoginFailure,
    LoginSession,
    Membership,
    PasswordReset,
    Person,
)
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
from .rounds import (
    Ballot,
    BallotBox,
    BoardMember,
    BoxCard,
    Candidate,
    Conference,
    IssueBatch,
    KioskFailure,
    KioskTablet,
    Round,
    SealedBallot,
    Token,
    VenueTablet,
)
from .scans import ScanImage, ScanPage

__all__ = [
    "ROLES", "Account", "Approval", "AuditEntry", "AuditHead", "Ballot", "BallotBox", "Base", "BoardMember", "BoxCard",
    "Candidate",
    "Committee", "CommitteeFormer", "CommitteeOrigin", "Conference", "Grant", "ImportedResult", "IssueBatch",
    "KioskFailure", "KioskTablet", "KnownAs", "LoginFailure", "LoginSession", "Membership", "PaperEntry", "PasswordReset", "Person", "Publication",
    "Result", "ResultSummary", "Round", "ScanImage", "ScanPage",
    "SealedBallot", "SetAside", "SheetRuling", "Token", "TrustedKey", "VenueTablet", "utcnow",
]
