"""The upper-level dashboard: every committee directly below one, the state of each one's rounds, and for the
results published to the upper level, turnout and how many candidates crossed each threshold.

A province has thousands of committees below one parent: the rows come from three queries (children, their rounds
with the summaries taken at each seal, results imported from other instances), never one query per committee.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .accounting import has_quorum
from .authority import reads_from_above
from .models import Account, Committee, Conference, ImportedResult, ResultSummary, Round

# What the dashboard calls each state of a round (ballots.lifecycle), folded for a reader above it.
PHASES = {"draft": "not_started", "issued": "not_started", "open": "open", "closed": "counting",
          "counted": "counting", "sealed": "sealed", "published": "published"}
PHASE_ORDER = ("not_started", "open", "counting", "sealed", "published")
SORTS = ("name", "phase", "turnout", "flagged")


@dataclass(frozen=True)
class Row:
    committee_id: int
    committee: str
    level: str
    phase: str
    round_id: int | None = None
    imported_id: int | None = None
    title: str = ""
    held_on: dt.date | None = None
    quorum: bool | None = None
    # published to this reader only: otherwise None
    issued: int | None = None
    collected: int | None = None
    crossed: tuple[int, int, int] | None = None

    @property
    def turnout(self) -> float | None:
        return self.collected / self.issued if self.issued else None

    @property
    def flagged(self) -> int:
        return self.crossed[0] if self.crossed else -1


def rows(session: Session, committee: Committee, account: Account) -> list[Row]:
    """One row per round of each committee directly below `committee` (a committee with none has one row too).

    Numbers appear only for results published with the upper level in their audience, to a viewer of
    `committee` (authority.reads_from_above: the same rule as reading the result itself).
    """
    children = {cid: (name, level) for cid, name, level in session.execute(
        select(Committee.id, Committee.name, Committee.level).where(Committee.parent_id == committee.id))}
    found: list[Row] = []
    seen: set[int] = set()
    # the summary's columns, not the entity: thousands of ORM instances would cost more than the rest of the page
    query = (select(Round.id, Round.title, Round.state, Round.convened, Round.present, Round.audience,
                    Conference.committee_id, Conference.held_on, ResultSummary.issued, ResultSummary.collected,
                    ResultSummary.more_than_half, ResultSummary.two_thirds_or_more,
                    ResultSummary.more_than_two_thirds)
             .join(Conference, Conference.id == Round.conference_id)
             .outerjoin(ResultSummary, ResultSummary.round_id == Round.id)
             .where(Conference.committee_id.in_(select(Committee.id).where(Committee.parent_id == committee.id))))
    for (rid, title, state, convened, present, audience, cid, held_on, issued, collected,
         *crossed) in session.execute(query):
        name, level = children[cid]
        seen.add(cid)
        # issued is NOT NULL in result_summary: None here means the round has no summary (not sealed)
        shown = state == "published" and issued is not None and reads_from_above(account, committee, audience)
        found.append(Row(cid, name, level, PHASES[state], round_id=rid, title=title, held_on=held_on,
                         quorum=has_quorum(convened, present),
                         issued=issued if shown else None, collected=collected if shown else None,
                         crossed=tuple(crossed) if shown else None))
    for imported in session.scalars(select(ImportedResult).where(
            ImportedResult.committee_id.in_(select(Committee.id).where(Committee.parent_id == committee.id)))):
        name, level = children[imported.committee_id]
        seen.add(imported.committee_id)
        shown = reads_from_above(account, committee, imported.audience)
        found.append(Row(imported.committee_id, name, level, "published", imported_id=imported.id,
                         title=imported.title, quorum=has_quorum(imported.convened, imported.present),
                         issued=imported.issued if shown else None, collected=imported.collected if shown else None,
                         crossed=(imported.more_than_half, imported.two_thirds_or_more, imported.more_than_two_thirds)
                         if shown else None))
    found += [Row(cid, name, level, "not_started") for cid, (name, level) in children.items() if cid not in seen]
    return found


def arrange(found: list[Row], *, sort: str = "name", phase: str | None = None, flagged_only: bool = False,
            descending: bool = False) -> list[Row]:
    """Filter and sort the rows as the reader asked; unknown values fall back to the defaults."""
    if phase in PHASE_ORDER:
        found = [r for r in found if r.phase == phase]
    if flagged_only:
        found = [r for r in found if r.crossed and r.crossed[0]]
    keys = {
        "name": lambda r: (r.committee, r.title),
        "phase": lambda r: (PHASE_ORDER.index(r.phase), r.committee),
        "turnout": lambda r: (r.turnout if r.turnout is not None else -1.0, r.committee),
        "flagged": lambda r: (r.flagged, r.committee),
    }
    return sorted(found, key=keys.get(sort, keys["name"]), reverse=descending)


def totals(found: list[Row]) -> dict[str, int]:
    """How many rows are in each phase, for the tiles above the table."""
    counts = dict.fromkeys(PHASE_ORDER, 0)
    for row in found:
        counts[row.phase] += 1
    return counts
