"""Domain errors. Each carries a public message (an English msgid translated by the app) and an HTTP status."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a message for extraction into the Babel catalogs without translating it here (no Flask in ballots/)."""
    return message


class BallotError(Exception):
    """A refusal the user must be told about. `message` is a msgid with %(name)s placeholders filled from params."""

    status = 400
    message = N_("The request was refused.")
    retry_after: int | None = None  # seconds: sent as Retry-After (a slow-down or a busy server, not a refusal)

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


class CandidateDeparted(Conflict):
    message = N_("No longer members of %(committee)s, still on the candidate list: %(names)s. Take them off the list "
                 "on the round's page before printing the ballots.")


class ConferencePrinted(Conflict):
    message = N_("The ballots of “%(title)s” are already issued: the conference's name, date and place are printed "
                 "on them and on the minutes, so the conference can no longer be changed or deleted.")


class TooManyPlaces(InvalidInput):
    message = N_(
        "%(name)s would be rated in %(count)s places, more than the %(limit)s places the rule set allows."
    )


class CandidateOnBoard(InvalidInput):
    message = N_("%(name)s is a candidate in this round and cannot sit on its counting board.")


class LoginThrottled(BallotError):
    """Log-in attempts slowed down (ballots.accounts): the next one is checked after `seconds`."""

    status = 429
    message = N_("Too many failed log-in attempts. Try again in %(minutes)s minutes.")

    def __init__(self, seconds: int) -> None:
        if seconds < 120:
            super().__init__(N_("Too many failed log-in attempts. Try again in %(seconds)s seconds."),
                             seconds=seconds)
        else:
            super().__init__(minutes=-(-seconds // 60))
        self.retry_after = seconds


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
    delay = 0.0  # seconds its answer is held back, set by the guessing throttle (ballots.guessing)


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
    """A code that matched no ballot, answered at once although its answer should have been held back (the server
    holds only so many at a time): the tablet is asked to wait before its next code (ballots.guessing)."""

    status = 429
    message = N_("No ballot of this round has this code, and too many wrong codes came from this tablet or its "
                 "network lately. Wait %(seconds)s seconds before the next code.")

    def __init__(self, seconds: int) -> None:
        super().__init__(seconds=seconds)
        self.retry_after = seconds


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


class WrongCard(InvalidInput):
    message = N_("This is not a key card of this round's ballot box. Check the card and present it again.")


class CardOfAnotherRound(InvalidInput):
    message = N_("This key card belongs to the ballot box of another round (round %(round)s).")


class CardRepeated(InvalidInput):
    message = N_("The same key card was presented twice: each card counts once.")


class NotEnoughCards(InvalidInput):
    message = N_("%(needed)s key cards are needed to open the ballot box; %(count)s were presented.")


class BoxAlreadyOpen(Conflict):
    message = N_("The ballot box of this round is already open.")


class BoxNotOpen(Conflict):
    message = N_("The tablet ballots are still sealed: the board opens the ballot box with its key cards before "
                 "the count.")


class BoxRecordTampered(Conflict):
    message = N_("The ballot box's record was changed outside TrustVote (its key or what was recorded at the close or "
                 "the opening). Nothing was written: report it to the upper-level committee.")


class RoundNotSealed(Conflict):
    message = N_("This round's ballots were issued before tablet ballots were sealed: vote on the paper ballot.")


class SealedSetChanged(Conflict):
    message = N_("The sealed ballots are not those recorded when voting closed: %(count)s now, %(recorded)s at the "
                 "close. Nothing was opened: report it to the upper-level committee.")


class SealedBallotTampered(Conflict):
    message = N_("A sealed ballot does not open under the round's key: it was changed. Nothing was opened: report "
                 "it to the upper-level committee.")


class OpenedSetChanged(Conflict):
    message = N_("The tablet ballots are not those recorded when the box was opened: %(count)s now, %(recorded)s "
                 "then. The count stops: report it to the upper-level committee.")


class OpenedBallotChanged(Conflict):
    message = N_("A tablet ballot was changed after the box was opened. The count stops: report it to the "
                 "upper-level committee.")


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


class CommitteeClosed(Conflict):
    message = N_("%(name)s no longer exists (it ended on %(day)s): it keeps its history and takes nothing new.")


class NamePrinted(Conflict):
    message = N_("The name of %(committee)s is already printed on the ballots of “%(title)s” (%(day)s): give the "
                 "day the change takes effect, so that the rounds held before it keep the old one.")


class ChangeDateRefused(Conflict):
    message = N_("“%(title)s” of %(committee)s, held on %(day)s, %(why)s")


class NoHistory(NotInAudience):
    message = N_("No published result about this person is open to you.")


class ServerBusy(BallotError):
    """A per-process limit on costly work (password hashing, decoding a camera frame, reading an upload) is
    reached: try again shortly (app.limits)."""

    status = 503
    message = N_("The server is busy. Try again in a few seconds.")

    def __init__(self, seconds: int = 2) -> None:
        super().__init__()
        self.retry_after = seconds


class SelfGrant(BallotError):
    status = 403
    message = N_("An administrator cannot grant a role to their own account: another administrator must do it.")


class SelfDisable(Conflict):
    message = N_("You cannot disable your own account.")


class SecondAdministrator(BallotError):
    status = 403
    message = N_("The new password of %(username)s was set by you: another administrator must confirm it.")


class NoPasswordWaiting(NotFound):
    message = N_("No new password is waiting to be confirmed for this account.")


class PersonSitsElsewhere(BallotError):
    status = 403
    message = N_("%(name)s also sits on %(places)s, outside the committees you organize: only an organizer of every "
                 "committee where this person sits can change their name.")
