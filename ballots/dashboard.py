"""The upper-level dashboard: the committees below one (directly below, or at every depth), the state of each
one's rounds in a term, and for the results this reader may read, turnout and how many candidates crossed each
threshold; with a roll-up of each level below.

A province has 40 to 170 committees directly below it and thousands in all (communes, their chi bộ): the rows come
from five queries (the subtree with each committee's depth, the renamed among them, the terms, the results imported
from other instances, the rounds with the summaries taken at each seal), never one query per committee. Which numbers a reader sees is
the audience rule of a result page (authority.reach, asked once per committee and audience): the direct upper
level reads what its committees publish to "upper"; a level further up reads a result only if its round's audience
says "above" (every upper level) or names the reader otherwise. The roll-up adds up only those numbers; it counts
the other published results without their numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from .accounting import has_quorum
from .authority import EVERYTHING, reach
from .committees import fold
from .models import Account, Committee, CommitteeFormer, Conference, ImportedResult, Result, ResultSummary, Round

# What the dashboard calls each state of a round (ballots.lifecycle), folded for a reader above it.
PHASES = {"draft": "not_started", "issued": "not_started", "open": "open", "closed": "counting",
          "counted": "counting", "sealed": "sealed", "published": "published"}
PHASE_ORDER = ("not_started", "open", "counting", "sealed", "published")
SORTS = ("name", "phase", "turnout", "flagged")
# the committees directly below, or every committee below at any depth
SCOPES = ("children", "all")
ALL_TERMS = "all"


@dataclass(frozen=True)
class Row:
    committee_id: int
    committee: str
    level: str
    phase: str
    depth: int = 1  # 1: directly below the dashboard's committee
    path: str = ""  # the committees between the dashboard's and this one's, top first: "Đảng ủy xã A"
    closed: bool = False
    term: str | None = None
    held_as: str | None = None  # the name the round was held under, when it is not the committee's name now
    round_id: int | None = None
    imported_id: int | None = None
    title: str = ""
    held_on: dt.date | None = None
    quorum: bool | None = None
    # for a published result this reader may read; otherwise None
    issued: int | None = None
    collected: int | None = None
    crossed: tuple[int, int, int] | None = None
    # more sheets collected than issued ("14/11"): the board's written ruling on it ("" if the document has none)
    anomaly_ruling: str | None = None

    @property
    def turnout(self) -> float | None:
        return self.collected / self.issued if self.issued else None

    @property
    def has_anomaly(self) -> bool:
        return self.issued is not None and self.collected > self.issued

    @property
    def flagged(self) -> int:
        return self.crossed[0] if self.crossed else -1


@dataclass
class LevelTotal:
    """What one level below adds up to: its committees, its rounds by phase, and over the published results the
    reader may read, the ballots and the candidates past each threshold."""

    depth: int
    level: str
    committees: int = 0
    phases: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASE_ORDER, 0))
    readable: int = 0  # published results whose numbers this reader may read
    unreadable: int = 0  # published results not published to this reader: counted, never added up
    no_quorum: int = 0
    issued: int = 0
    collected: int = 0
    crossed: list[int] = field(default_factory=lambda: [0, 0, 0])

    @property
    def turnout(self) -> float | None:
        return self.collected / self.issued if self.issued else None


@dataclass(frozen=True)
class Board:
    """The dashboard of one committee for one reader, in one term (None: every term)."""

    rows: list[Row]  # every row of the scope, before the reader's filters
    rollup: list[LevelTotal]  # every level below, whatever the scope
    terms: list[str]  # newest first
    term: str | None
    levels: list[str]  # the level labels of the rows in scope

    @property
    def phase_totals(self) -> dict[str, int]:
        return totals(self.rows)


def board(session: Session, committee: Committee, account: Account, *, scope: str = "children",
          term: str | None = None) -> Board:
    """The rows below `committee` for this reader: one per round of each committee in scope held in `term`
    (default: the newest term below; ALL_TERMS: every term), and one "not started" row for each committee that
    exists and has none; the roll-up of every level below. Numbers only where authority.reach says this reader
    reads the result (EVERYTHING): published, and to them."""
    scope = scope if scope in SCOPES else "children"
    below = (select(Committee.id, literal(1).label("depth")).where(Committee.parent_id == committee.id)
             .cte("below", recursive=True))
    below = below.union_all(select(Committee.id, below.c.depth + 1).where(Committee.parent_id == below.c.id))
    depth: dict[int, int] = {}
    nodes: dict[int, Node] = {}
    parents: dict[int, int] = {}
    for cid, parent_id, name, level, formed_on, closed_on, at in session.execute(
            select(Committee.id, Committee.parent_id, Committee.name, Committee.level, Committee.formed_on,
                   Committee.closed_on, below.c.depth).join(below, below.c.id == Committee.id)):
        nodes[cid], depth[cid], parents[cid] = Node(cid, name, level, formed_on, closed_on), at, parent_id
    for cid, parent_id in parents.items():
        nodes[cid].parent = nodes.get(parent_id, committee)
    ids = select(below.c.id)
    renamed = set(session.scalars(select(CommitteeFormer.committee_id).where(CommitteeFormer.committee_id.in_(ids))))

    terms = set(session.scalars(select(Conference.term).where(Conference.committee_id.in_(ids)).distinct()))
    imported = list(session.scalars(select(ImportedResult).where(ImportedResult.committee_id.in_(ids))))
    imported_terms = {found.id: json.loads(found.document).get("round", {}).get("term") for found in imported}
    terms = sorted(terms | {t for t in imported_terms.values() if t}, reverse=True)
    if term == ALL_TERMS:
        term = None
    elif term not in terms:
        term = terms[0] if terms else None

    readers: dict[tuple[int, tuple[str, ...]], bool] = {}

    def reads(committee_id: int, audience) -> bool:
        key = (committee_id, tuple(audience))
        if key not in readers:
            readers[key] = reach(account, nodes[committee_id], key[1], set()) == EVERYTHING
        return readers[key]

    paths: dict[int, str] = {}

    def path_of(committee_id: int) -> str:
        if committee_id not in paths:
            parent = parents[committee_id]
            paths[committee_id] = "" if parent not in nodes else " / ".join(
                filter(None, (path_of(parent), nodes[parent].name)))
        return paths[committee_id]

    def row(cid: int, **values) -> Row:
        node = nodes[cid]
        return Row(cid, node.name, node.level, depth=depth[cid], path=path_of(cid),
                   closed=node.closed_on is not None, **values)

    found: list[Row] = []
    seen: set[int] = set()
    # the summary's columns, not the entity: thousands of ORM instances would cost more than the rest of the page
    query = (select(Round.id, Round.title, Round.state, Round.convened, Round.present, Round.audience,
                    Conference.committee_id, Conference.held_on, Conference.term, ResultSummary.issued,
                    ResultSummary.collected, ResultSummary.more_than_half, ResultSummary.two_thirds_or_more,
                    ResultSummary.more_than_two_thirds)
             .join(Conference, Conference.id == Round.conference_id)
             .outerjoin(ResultSummary, ResultSummary.round_id == Round.id)
             .where(Conference.committee_id.in_(ids)))
    if term is not None:
        query = query.where(Conference.term == term)
    for (rid, title, state, convened, present, audience, cid, held_on, round_term, issued, collected,
         *crossed) in session.execute(query):
        seen.add(cid)
        # issued is NOT NULL in result_summary: None here means the round has no summary (not sealed)
        shown = state == "published" and issued is not None and reads(cid, audience)
        held_as = session.get(Committee, cid).name_on(held_on) if cid in renamed else None
        found.append(row(cid, phase=PHASES[state], term=round_term, round_id=rid, title=title, held_on=held_on,
                         held_as=held_as if held_as != nodes[cid].name else None,
                         quorum=has_quorum(convened, present), issued=issued if shown else None,
                         collected=collected if shown else None, crossed=tuple(crossed) if shown else None))
    for result in imported:
        if term is not None and imported_terms[result.id] != term:
            continue
        seen.add(result.committee_id)
        shown = reads(result.committee_id, result.audience)
        found.append(row(result.committee_id, phase="published", term=imported_terms[result.id],
                         imported_id=result.id, title=result.title,
                         quorum=has_quorum(result.convened, result.present),
                         issued=result.issued if shown else None, collected=result.collected if shown else None,
                         crossed=(result.more_than_half, result.two_thirds_or_more, result.more_than_two_thirds)
                         if shown else None))
    found += [row(cid, phase="not_started") for cid, node in nodes.items()
              if cid not in seen and node.closed_on is None and _existed_in(node, term)]
    found = _with_rulings(session, found, {result.id: result for result in imported})
    in_scope = found if scope == "all" else [r for r in found if r.depth == 1]
    return Board(rows=in_scope, rollup=rollup(found), terms=terms, term=term,
                 levels=sorted({r.level for r in in_scope}, key=fold))


def _with_rulings(session: Session, found: list[Row], imported: dict[int, ImportedResult]) -> list[Row]:
    """The rows whose figures show more collected than issued, with the board's ruling that explains them: read from
    the signed documents of those rows only (rare), never from every row's."""
    odd = [r for r in found if r.has_anomaly]
    if not odd:
        return found
    documents = dict(session.execute(select(Result.round_id, Result.document)
                                     .where(Result.round_id.in_([r.round_id for r in odd if r.round_id]))).all())
    documents |= {("imported", key): found_.document for key, found_ in imported.items()}
    rulings = {}
    for r in odd:
        text = documents.get(r.round_id if r.round_id else ("imported", r.imported_id))
        rulings[id(r)] = ((json.loads(text).get("rulings") or {}).get("anomaly") or "") if text else ""
    return [replace(r, anomaly_ruling=rulings[id(r)]) if id(r) in rulings else r for r in found]


@dataclass(eq=False)
class Node:
    """A committee below the dashboard's, read as plain columns: thousands of ORM entities would cost more than the
    rest of the page. authority.reach reads of a committee only its id and its chain of parents, which these give
    (the top ones' parent is the dashboard's committee itself, an entity, and its own chain goes on up)."""

    id: int
    name: str
    level: str
    formed_on: dt.date | None
    closed_on: dt.date | None
    parent: "Node | Committee | None" = None


def _existed_in(committee: Node, term: str | None) -> bool:
    """Whether a committee with no round in the term should show as not started: not when it was formed after
    the term ended (a commune of 2025 in the 2020–2025 term). A term is written with its years, "2020-2025"."""
    years = re.findall(r"\d{4}", term or "")
    return not (years and committee.formed_on is not None and committee.formed_on.year >= int(years[-1]))


def rollup(found: list[Row]) -> list[LevelTotal]:
    """The rows added up by level (depth, then label), nearest level first: each level's committees, its rows by
    phase, and over the results this reader may read (the rows that carry numbers) ballots and thresholds."""
    levels: dict[tuple[int, str], LevelTotal] = {}
    committees: dict[tuple[int, str], set[int]] = {}
    for row in found:
        key = (row.depth, row.level)
        total = levels.setdefault(key, LevelTotal(row.depth, row.level))
        committees.setdefault(key, set()).add(row.committee_id)
        total.phases[row.phase] += 1
        if row.quorum is False:
            total.no_quorum += 1
        if row.crossed is not None:
            total.readable += 1
            total.issued += row.issued
            total.collected += row.collected
            total.crossed = [a + b for a, b in zip(total.crossed, row.crossed)]
        elif row.phase == "published":
            total.unreadable += 1
    for key, total in levels.items():
        total.committees = len(committees[key])
    return [levels[key] for key in sorted(levels, key=lambda key: (key[0], fold(key[1])))]


def arrange(found: list[Row], *, sort: str = "name", phase: str | None = None, flagged_only: bool = False,
            descending: bool = False, level: str | None = None, search: str = "") -> list[Row]:
    """Filter and sort the rows as the reader asked; unknown values fall back to the defaults. `search` matches
    the committee's name or its path, without case or diacritics."""
    if phase in PHASE_ORDER:
        found = [r for r in found if r.phase == phase]
    if flagged_only:
        found = [r for r in found if r.crossed and r.crossed[0]]
    if level:
        found = [r for r in found if r.level == level]
    if wanted := fold(search or ""):
        found = [r for r in found if wanted in fold(r.committee) or wanted in fold(r.path)]
    keys = {
        # the tree's order: each committee, then the committees below it
        "name": lambda r: (fold(f"{r.path} / {r.committee}" if r.path else r.committee), r.title),
        "phase": lambda r: (PHASE_ORDER.index(r.phase), fold(r.committee)),
        "turnout": lambda r: (r.turnout if r.turnout is not None else -1.0, fold(r.committee)),
        "flagged": lambda r: (r.flagged, fold(r.committee)),
    }
    return sorted(found, key=keys.get(sort, keys["name"]), reverse=descending)


def totals(found: list[Row]) -> dict[str, int]:
    """How many rows are in each phase, for the tiles above the table."""
    counts = dict.fromkeys(PHASE_ORDER, 0)
    for row in found:
        counts[row.phase] += 1
    return counts


def rows(session: Session, committee: Committee, account: Account) -> list[Row]:
    """The rows of the committees directly below, every term (for callers that want the plain list)."""
    return board(session, committee, account, term=ALL_TERMS).rows
