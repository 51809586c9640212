"""Domain errors. Each carries a public message (an English msgid translated by the app) and an HTTP status."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for extraction into the Babel catalogs without translating it here (no Flask in ballots/)."""
    return message


class BallotError(Exception):
    """A refusal the user must be told about. `message` is a msgid with %(name)s placeholders filled from params."""

    status = 400
    message = N_("The request was refused.")

    def __init__(self, message: str | None = None, **params: object) -> None:
        if message is not None:
            self.message = message
        self.params = params
        super().__init__(self.message % params if params else self.message)


class NotFound(BallotError):
    status = 404
    message = N_("Not found.")


class Conflict(BallotError):
    status = 409
    message = N_("This conflicts with the current state.")


class InvalidInput(BallotError):
    status = 400
    message = N_("The input is not valid.")


class RoundNotDraft(Conflict):
    message = N_("This round is no longer in draft; its settings and lists can no longer change.")


class TooManyPlaces(InvalidInput):
    message = N_(
        "%(name)s would be rated in %(count)s places, more than the %(limit)s places the rule set allows."
    )


class CandidateOnBoard(InvalidInput):
    message = N_("%(name)s is a candidate in this round and cannot sit on its counting board.")


class LoginThrottled(BallotError):
    status = 429
    message = N_("Too many failed log-in attempts. Try again in %(minutes)s minutes.")


class RosterInvalid(InvalidInput):
    """Raised with a list of (row number, message, params) so the page can show every wrong row at once."""

    status = 422
    message = N_("The roster has errors; nothing was imported.")

    def __init__(self, problems: list[tuple[int, str, dict]]) -> None:
        super().__init__()
        self.problems = problems


class QuorumNotMet(Conflict):
    message = N_(
        "The vote cannot proceed: %(present)s present of %(convened)s convened is less than two thirds."
    )


class TooManyBallots(InvalidInput):
    message = N_(
        "Issuing %(count)s more ballots would make %(total)s, more than the %(present)s present plus "
        "%(spares)s spares declared."
    )


class IssuingClosed(Conflict):
    message = N_("Ballots can no longer be issued or voided for this round: it is %(state)s.")


class UnknownBallot(NotFound):
    message = N_("No ballot of this round has this code.")


class BallotNotVoidable(Conflict):
    message = N_("This ballot cannot be voided: it is already %(state)s.")


class BallotAlreadyUsed(Conflict):
    message = N_("This ballot has already been used. Each ballot can be used only once.")


class BallotVoided(Conflict):
    status = 410
    message = N_("This ballot was voided by the counting board and cannot be used.")


class WrongRound(Conflict):
    message = N_("This ballot belongs to another round of voting, not to the one this tablet serves.")


class RoundNotIssued(Conflict):
    message = N_("Only a round whose ballots are issued can be opened for voting.")


class RoundNotOpen(Conflict):
    message = N_("Voting is not open for this round.")


class InvalidMarks(InvalidInput):
    message = N_("The ballot's marks are not valid: one mark per candidate is expected.")


class KioskThrottled(BallotError):
    status = 429
    message = N_("Too many wrong codes from this tablet. Wait %(minutes)s minutes, or ask the counting board.")


class RoundSealed(Conflict):
    message = N_("The result of this round is sealed: nothing about it can change.")


class NotCountingNow(Conflict):
    message = N_("This can be done only after voting is closed and before the count is finished; the round is %(state)s.")


class NotOnBoard(BallotError):
    status = 403
    message = N_("Only a member of this round's counting board can do this.")


class PaperMarksInvalid(InvalidInput):
    message = N_("Key one mark per candidate: %(count)s digits, each 0 (none), 1 (high trust), 2 (trust), "
                 "3 (low trust) or 4 (several boxes).")


class SheetsUnsettled(Conflict):
    message = N_("%(count)s paper ballots are not settled: their entries disagree or too few tellers entered them. "
                 "Enter them or rule on them first.")


class NotCounted(Conflict):
    message = N_("The round has not been counted yet; it is %(state)s.")


class AlreadyApproved(Conflict):
    message = N_("You have already approved this count.")


class AnomalyNotRuled(Conflict):
    message = N_("The count shows an anomaly; the board must record its ruling on it before approving.")


class NotPublisher(BallotError):
    status = 403
    message = N_("Under this round's rule set, only %(who)s can publish its result.")


class AlreadyPublished(Conflict):
    message = N_("This result is already published.")


class NotSealed(Conflict):
    message = N_("Only a sealed result can be published.")


class NotPublishedYet(Conflict):
    message = N_("Only a published result can be exported for the upper level.")


class NotInAudience(BallotError):
    status = 403
    message = N_("This result is not published to you.")


class BundleRefused(BallotError):
    status = 422
    message = N_("The bundle was refused.")


class UnknownKey(BundleRefused):
    message = N_("The bundle is signed with a key that is not registered on this server (fingerprint %(fingerprint)s). "
                 "An administrator registers the key of each instance allowed to report here.")


class BadSignature(BundleRefused):
    message = N_("The bundle's signature does not match its content: it was changed after it was signed.")


class BadArithmetic(BundleRefused):
    message = N_("The result in the bundle does not add up: %(problem)s.")


class TreeMismatch(BundleRefused):
    message = N_("The committee %(path)s of this bundle is not in this server's tree where its key may report.")


class AlreadyImported(Conflict):
    message = N_("This result was already imported.")
