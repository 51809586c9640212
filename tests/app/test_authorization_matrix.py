"""The authorization matrix (issue 6): every route of the URL map × every role × before and after publication.

Each rule of `app.url_map` (only `static` is left out) is requested, with its arguments filled from a small
world, by each role: a visitor, a kiosk (a visitor holding a tablet id from /kiosk/<round>), the provincial
organizer and the commune's organizer, a teller on the round's counting board, a viewer of the commune, of its
parent (the district), of its grandparent (the province), of a sibling commune, and an administrator without a
grant. GETs as they are; POSTs with a valid CSRF token and an empty form, so that a permitted one is answered by
its form's validation or the domain's refusal and a forbidden one by the access check. The statuses must be the
table's (EXPECTED below, one entry per endpoint and method: a new route fails the test until it is added), and
no response outside a result's audience may carry any of its numbers: not the result's digest, signature or
ballots digest, not its percentages, not its dashboard figures, not a PDF, not a workbook holding them; nor any
500. Error pages (404, 405) and the API are requested too.

One test per database, one world for all roles: the round is sealed in the first phase and published in the
second (the board's own POST publishes it, as on the count page's button); a POST that changes something when
permitted gets a target of its own per role and phase. Every mismatch is collected into one message.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from openpyxl import load_workbook
from werkzeug.routing import AnyConverter

from ballots import accounts, committees, publication, signing
from ballots.models import ImportedResult, Result, Round
from app import create_app
from app.settings import SIGNING_KEY_FILE, Settings
from tests.conftest import Browserish, csrf_from, fresh
from tests.factories import PASSWORD, accounts_with_role, make_imported_result, sealed_round

# --- the roles -------------------------------------------------------------------------------------------------

ROLES = ("anonymous", "kiosk", "organizer", "commune_organizer", "teller", "viewer", "district_viewer",
         "province_viewer", "sibling_viewer", "admin")
VISITORS = frozenset({"anonymous", "kiosk"})             # no account: log-in pages redirect them (302)
ACCOUNTS = frozenset(ROLES) - VISITORS
ORGANIZERS = frozenset({"organizer", "commune_organizer"})  # of the province (covers the tree), of the commune
BOARD = frozenset({"teller"})                             # sits on the round's counting board
AUDIENCE = BOARD | {"viewer", "district_viewer"}          # DOMAIN.md: the committee and its direct upper level
IMPORTED_AUDIENCE = frozenset({"sibling_viewer", "district_viewer"})  # a result the sibling carried up, same rule


# --- how a status is expected: small rules, read as sentences --------------------------------------------------

Rule = Callable[[str, bool, str | None], int]  # (role, published?, target committee) -> status


def only(who, ok: int = 200, *, refused: int = 403, visitor: int = 302) -> Rule:
    """`who` get `ok`; any other account `refused`; a visitor is sent to the log-in page."""
    return lambda role, published, target: visitor if role in VISITORS else ok if role in who else refused


def everyone(status: int) -> Rule:
    """No log-in, no role: the same for all (the kiosk, its API, the language switch)."""
    return lambda role, published, target: status


def visitors(visitor: int, account: int) -> Rule:
    """The log-in page: one status for visitors, another for logged-in accounts."""
    return lambda role, published, target: visitor if role in VISITORS else account


def after_publication(who, ok: int = 200) -> Rule:
    """A result's own pages: before publication no account reads it (403); after it, only `who`."""
    return lambda role, published, target: (only(who, ok) if published else only(()))(role, published, target)


def phases(before: Rule, after: Rule) -> Rule:
    return lambda role, published, target: (after if published else before)(role, published, target)


def per_committee(**rules: Rule) -> Rule:
    """The dashboard: who may open it depends on the committee it is of."""
    return lambda role, published, target: rules[target](role, published, target)


ADMIN = frozenset({"admin"})
EVERY_ACCOUNT = ACCOUNTS

# endpoint -> {method: rule}. POSTs send only a CSRF token: "400" is a permitted form refused for being empty,
# "409" a permitted action refused because the round is sealed (or published).
EXPECTED: dict[str, dict[str, Rule]] = {
    # log-in, language
    "auth.login": {"GET": visitors(200, 302), "POST": visitors(400, 302)},
    "auth.logout": {"POST": everyone(302)},
    "auth.choose_language": {"GET": everyone(302)},
    # organizers: the tree, members, conferences, rounds in draft (an organizer's grant covers the tree below)
    "organize.home": {"GET": everyone(200)},  # the log-in page for a visitor, the home page for an account
    "organize.committee": {"GET": only(ORGANIZERS)},
    "organize.edit_committee": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    "organize.new_committee": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    # the commune's own organizer may not delete the top of its reach; the province's is refused: not empty
    "organize.delete_committee": {"POST": only({"organizer"}, 409)},
    # the tree's history: what a committee was formed from, ending it (the parent's organizer, as deleting), the
    # members of the former committees seated again (empty forms: 400)
    "organize.formation": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    "organize.close_committee": {"GET": only({"organizer"}), "POST": only({"organizer"}, 400)},
    "organize.carry_over": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    "organize.new_member": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    # a seat's form is filled from the seat: sent with nothing changed, it is saved as it is
    "organize.edit_member": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 302)},
    "organize.remove_member": {"POST": only(ORGANIZERS, 303)},
    "organize.move_member": {"POST": only(ORGANIZERS, 303)},
    "organize.import_roster": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    "organize.roster_template": {"GET": only(ORGANIZERS)},
    "organize.new_conference": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    "organize.conference": {"GET": only(ORGANIZERS)},
    "organize.new_round": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    "organize.round_page": {"GET": only(ORGANIZERS)},
    "organize.round_save": {"POST": only(ORGANIZERS, 409)},  # the matrix's round has left draft
    "organize.delete_round": {"POST": only(ORGANIZERS, 409)},
    "organize.edit_conference": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 409)},  # its round is issued
    "organize.delete_conference": {"POST": only(ORGANIZERS, 303)},  # refused (its round is past draft), said
    # ballots: the organizers and the board (counts of issued and cast ballots, never their content)
    "board.ballots": {"GET": only(ORGANIZERS | BOARD)},
    "board.issue": {"POST": only(ORGANIZERS | BOARD, 400)},
    "board.void": {"POST": only(ORGANIZERS | BOARD, 400)},
    "board.voting": {"POST": only(ORGANIZERS | BOARD, 409)},
    "board.turnout": {"GET": only(ORGANIZERS | BOARD)},
    # counting: the board only, before and after publication; nobody else, organizers included
    "count.overview": {"GET": only(BOARD)},
    "count.entry": {"GET": only(BOARD), "POST": only(BOARD, 400)},
    "count.entries": {"GET": only(BOARD)},
    "count.rule": {"POST": only(BOARD, 409)},  # an empty ruling is a form; a sealed count takes none
    "count.finish": {"POST": only(BOARD, 409)},
    "count.reopen": {"POST": only(BOARD, 409)},
    "count.anomaly": {"POST": only(BOARD, 400)},
    "count.approve": {"POST": only(BOARD, 409)},
    "count.open_box": {"POST": only(BOARD, 409)},  # a sealed round's box is open and its records frozen
    "count.minutes_pdf": {"GET": only(BOARD)},
    "count.result_json": {"GET": only(BOARD)},
    "count.ballot_export": {"GET": only(BOARD)},
    # scanned ballots and their images: the board only (this world's round has no scanned page: 404 for the board)
    "count.scans": {"GET": only(BOARD)},
    "count.upload_scans": {"POST": only(BOARD, 400)},  # no file chosen
    "count.next_scan": {"GET": only(BOARD, 303)},  # nothing waits: back to the scans page
    "count.review_scan": {"GET": only(BOARD, 404)},
    "count.scan_image": {"GET": only(BOARD, 404)},
    "count.confirm_scan": {"POST": only(BOARD, 404)},
    "count.key_scan": {"POST": only(BOARD, 404)},
    # published results: nothing before publication, then the audience only (not the administrator)
    "results.home": {"GET": only(EVERY_ACCOUNT)},
    "results.result": {"GET": after_publication(AUDIENCE)},
    "results.download": {"GET": after_publication(AUDIENCE)},  # pdf, xlsx, csv, json
    "results.publish": {"POST": phases(only(BOARD, 303), only(BOARD, 409))},  # publishes; then "already published"
    "results.bundle": {"GET": phases(only(BOARD, 409), only(BOARD))},  # a published result only
    "results.imported": {"GET": only(IMPORTED_AUDIENCE)},
    # a person's trust over time: names only in the list; a history shows a reader the rows published to them (the
    # rated person of the round: nobody before publication, the audience after it), none: 403 and no name
    "results.people": {"GET": only(EVERY_ACCOUNT)},
    "results.person": {"GET": after_publication(AUDIENCE)},
    "results.person_xlsx": {"GET": after_publication(AUDIENCE)},
    "results.import_bundle": {"GET": only(ORGANIZERS), "POST": only(ORGANIZERS, 400)},
    "upper.board": {"GET": per_committee(  # viewer grants are exact; an organizer's covers the tree below
        commune=only(ORGANIZERS | {"viewer"}),
        district=only({"organizer", "district_viewer"}),
        province=only({"organizer", "province_viewer"}))},
    # administrators: accounts, grants, trusted keys
    "admin.account_list": {"GET": only(ADMIN)},
    "admin.new_account": {"GET": only(ADMIN), "POST": only(ADMIN, 400)},
    "admin.account": {"GET": only(ADMIN)},
    "admin.grant": {"POST": only(ADMIN, 400)},
    "admin.revoke": {"POST": only(ADMIN, 303)},
    "admin.password": {"POST": only(ADMIN, 400)},
    "admin.waiting_password": {"POST": only(ADMIN, 404)},  # confirm or drop: no new password waits for the spare
    "admin.unlock": {"POST": only(ADMIN, 303)},
    "admin.active": {"POST": only(ADMIN, 303)},
    "admin.keys": {"GET": only(ADMIN), "POST": only(ADMIN, 400)},
    # the kiosk and its API: no account; a form or body without a ballot's code is refused
    "kiosk.scan": {"GET": everyone(200)},
    "kiosk.from_camera_app": {"GET": everyone(200)},
    "kiosk.ballot_form": {"POST": everyone(400)},
    "kiosk.cast_form": {"POST": everyone(400)},
    "api.openapi": {"GET": everyone(200)},
    "api.open_ballot": {"POST": everyone(400)},
    "api.cast": {"POST": everyone(400)},
    "api.scan": {"POST": everyone(400)},
    # the venue (issue 16): its checklist, the paper-sheet practice and the printer test page are the organizers'
    # and the board's; how to install the authority, the authority itself (none made in this instance: 404), the
    # secure-context check, a kiosk page's report (an empty body: 400) and the printer test page's QR (a token
    # not signed by this server: 404) need no account: a tablet opens them before anyone logs in on it
    "venue.page": {"GET": only(ORGANIZERS | BOARD)},
    "venue.paper_practice": {"POST": only(ORGANIZERS | BOARD, 303)},  # no practice chosen: said on the page
    "venue.test_page": {"GET": only(ORGANIZERS | BOARD)},
    "venue_public.install": {"GET": everyone(200)},
    "venue_public.ca_der": {"GET": everyone(404)},
    "venue_public.ca_pem": {"GET": everyone(404)},
    "venue_public.check": {"GET": everyone(200)},
    "venue_public.report": {"POST": everyone(400)},
    "venue_public.printed": {"GET": everyone(404)},
}

UNKNOWN = 999_999
# Requests no route answers as asked: error pages must not carry a result either.
ERRORS: list[tuple[str, str, Rule]] = [
    ("GET", f"/results/rounds/{UNKNOWN}", visitors(302, 404)),
    ("GET", f"/results/rounds/{UNKNOWN}/pdf", visitors(302, 404)),
    ("GET", f"/count/rounds/{UNKNOWN}", visitors(302, 404)),
    ("GET", f"/results/committees/{UNKNOWN}/below", visitors(302, 404)),
    ("GET", f"/results/imported/{UNKNOWN}", visitors(302, 404)),
    ("GET", f"/results/people/{UNKNOWN}", visitors(302, 404)),
    ("GET", f"/kiosk/{UNKNOWN}", everyone(404)),
    ("GET", "/results/rounds/{round}/docx", everyone(404)),
    ("GET", "/results/rounds/{round}/publish", everyone(405)),
    ("GET", "/count/rounds/{round}/approve", everyone(405)),
    ("DELETE", "/results/rounds/{round}", everyone(405)),
    ("GET", "/api/v1/ballots", everyone(405)),
    ("GET", "/api/v1/results/{round}", everyone(404)),
    ("GET", "/lang/xx", everyone(404)),
    ("GET", "/no-such-page", everyone(404)),
]

DASHBOARD_TARGETS = ("commune", "district", "province")
CSRF_REFUSED = "Biểu mẫu đã hết hạn hoặc không được gửi từ trang này"


# --- the world ---------------------------------------------------------------------------------------------------

@dataclass
class Matrix:
    round_id: int
    committees: dict[str, int]
    conference_id: int
    seat_id: int                  # a commune seat every role opens and moves
    spare_seats: dict[tuple[str, bool], int]  # one for each organizer to remove in each phase
    spare_account_id: int
    spare_grants: dict[bool | None, int]       # one for the administrator to revoke in each phase; None: kept
    imported_id: int
    person_id: int                # a candidate of the round (the one past two thirds): their history
    sheet: str
    markers: dict[str, str]           # what only the round's result shows, by name
    imported_markers: dict[str, str]  # what only the imported result shows


def build_matrix(session, world, key) -> Matrix:
    round_ = sealed_round(session, world, key)
    result = session.get(Result, round_.id)
    doc = json.loads(result.document)
    # A viewer of the grandparent: the province's results are the districts'; the communes' are not its to read.
    accounts_with_role(session, world, world.province, "viewer", "province_viewer")
    # Targets of the POSTs that change something when permitted: one per role and phase, so that every request
    # finds its target as the first phase left it.
    spare = accounts.create_account(session, username="spare", display_name="spare", password=PASSWORD,
                                    actor="test")
    grants = {flag: accounts.grant_role(session, account=spare, committee=committee, role="viewer", actor="test").id
              for flag, committee in ((False, world.sibling), (True, world.province), (None, world.commune))}
    spare_seats = {}
    for role in sorted(ORGANIZERS):
        for flag in (False, True):
            person = committees.create_person(session, full_name=f"Đỗ Văn {role} {flag}", code=None)
            spare_seats[role, flag] = committees.add_member(session, committee=world.commune, person=person,
                                                            post="Ủy viên", actor="test").id
    imported = _imported_result(session, world, doc)
    session.commit()
    seat = next(m for m in world.commune.memberships if m.person.full_name == "Nguyễn Văn Hùng")
    # the sealed document (tests/factories.py): 4 collected of 5 issued; candidate 4 has 3 low of 4: 75,00 %
    assert (doc["numbers"]["collected"], doc["numbers"]["issued"], doc["base"]["value"]) == (4, 5, 4)
    assert doc["candidates"][3]["low"] == 3 and doc["candidates"][3]["name"] == "Phạm Thị Hương"
    return Matrix(
        round_id=round_.id,
        committees={"commune": world.commune.id, "district": world.district.id, "province": world.province.id},
        conference_id=world.conference.id, seat_id=seat.id, spare_seats=spare_seats, spare_account_id=spare.id,
        spare_grants=grants, imported_id=imported.id, sheet=doc["ballots_digest"][:8],
        person_id=world.people["Phạm Thị Hương"].id,
        markers={"digest": result.digest, "signature": result.signature, "ballots digest": doc["ballots_digest"],
                 "percentage": "75,00"},  # as the pages and the CSV (vi-VN: decimal comma) write it
        imported_markers={"digest": imported.digest, "percentage": "77,78"})


def _imported_result(session, world, local: dict) -> ImportedResult:
    """A result the sibling commune counted on its own laptop and carried up: numbers of its own (9 of 9 ballots,
    each candidate 7 high, 1 trust, 1 low: 77,78 % and 11,11 %), told apart from the local round's."""
    numbers = {**local["numbers"], "issued": 9, "collected": 9, "valid": 9, "invalid": 0, "present": 9,
               "convened": 9, "absent": 0, "invalid_reasons": dict.fromkeys(local["numbers"]["invalid_reasons"], 0)}
    doc = {**local, "numbers": numbers, "base": {**local["base"], "value": 9}, "ballots_digest": "cd" * 32,
           "round": {**local["round"], "committee": world.sibling.name, "title": "Lấy phiếu tín nhiệm (máy xã)"},
           "candidates": [{**c, "high": 7, "trust": 1, "low": 1, "invalid": 0,
                           "flags": dict.fromkeys(c["flags"], False)} for c in local["candidates"]]}
    return make_imported_result(session, world, document=doc, title=doc["round"]["title"],
                                audience=local["rule_set"]["audience"], convened=9, present=9, issued=9, collected=9)


# --- the requests ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    endpoint: str
    method: str
    url: str
    target: str | None = None  # the dashboard's committee


def cases(app, m: Matrix, role: str, published: bool) -> list[Case]:
    """Every rule × method × value of its arguments, POSTs last, publishing last of all."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for values, target in _arguments(rule, m, role, published):
                url = rule.build(values, append_unknown=False)[1]
                found.append(Case(rule.endpoint, method, url, target))
                if rule.endpoint == "upper.board":  # every level below too: its rows and its roll-up
                    for query in ("?format=xlsx", "?scope=all", "?scope=all&format=xlsx"):
                        found.append(Case(rule.endpoint, method, url + query, target))
    return sorted(found, key=lambda c: (c.method == "POST", c.endpoint == "results.publish"))


def _arguments(rule, m: Matrix, role: str, published: bool):
    fixed = {"round_id": m.round_id, "conference_id": m.conference_id, "seat_id": m.seat_id,
             "account_id": m.spare_account_id, "grant_id": m.spare_grants[published if role == "admin" else None],
             "imported_id": m.imported_id, "sheet": m.sheet, "code": "vi", "person_id": m.person_id,
             "page_id": 999_999, "token": "not-signed-here"}
    if rule.endpoint == "organize.remove_member" and role in ORGANIZERS:
        fixed["seat_id"] = m.spare_seats[role, published]
    combos, targets = [{}], [None]
    for name in sorted(rule.arguments):
        converter = rule._converters[name]
        if name == "committee_id":
            targets = list(DASHBOARD_TARGETS) if rule.endpoint == "upper.board" else ["commune"]
            continue
        if isinstance(converter, AnyConverter):
            values = sorted(converter.items)
        else:
            assert name in fixed, f"{rule.rule}: no value for <{name}>: add one to _arguments"
            values = [fixed[name]]
        combos = [{**combo, name: value} for combo in combos for value in values]
    for target in targets:
        for combo in combos:
            yield ({**combo, "committee_id": m.committees[target]} if target else combo), \
                (target if rule.endpoint == "upper.board" else None)


class Role:
    """A client as one role: logged in (or not), holding a CSRF token from a page it can open."""

    def __init__(self, app, role: str, login_as, m: Matrix):
        self.name, self.login_as = role, login_as
        self.headers = {}
        if role in VISITORS:
            self.client = Browserish(app.test_client())
            self.token = csrf_from(self.client.get("/login").get_data(as_text=True))
            if role == "kiosk":
                page = self.client.get(f"/kiosk/{m.round_id}").get_data(as_text=True)
                self.headers["X-Tablet"] = re.search(r'data-tablet="([^"]+)"', page).group(1)
        else:
            self.client = login_as(role)
            self.token = csrf_from(self.client.get("/").get_data(as_text=True))

    def request(self, method: str, url: str, endpoint: str = ""):
        """The response, or the exception the app raised (TESTING propagates what would be a 500)."""
        try:
            return self._request(method, url, endpoint)
        except Exception as exc:  # collected with the other mismatches, so that one run lists them all
            return exc

    def _request(self, method: str, url: str, endpoint: str):
        if method != "POST":
            return self.client.open(url, method=method, headers=self.headers)
        client, token = self.client, self.token
        if endpoint == "auth.logout" and self.name in ACCOUNTS:
            client = self.login_as(self.name)  # log out a second session, not the one the matrix goes on with
            token = csrf_from(client.get("/").get_data(as_text=True))
        data = {"csrf_token": token}
        if "X-Tablet" in self.headers:
            data["tablet"] = self.headers["X-Tablet"]
        return client.open(url, method="POST", data=data, headers=self.headers)


# --- what a response may carry -----------------------------------------------------------------------------------

def reads_result(endpoint: str, role: str, published: bool, target: str | None) -> bool:
    """Whether this response may carry the local round's numbers: the board's pages, or the audience after
    publication (the dashboard's figures: the direct upper level's viewer)."""
    if endpoint.startswith("count."):
        return role in BOARD
    if endpoint in ("results.result", "results.download", "results.bundle", "results.person",
                    "results.person_xlsx"):
        return published and role in AUDIENCE
    if endpoint == "upper.board":
        return published and target == "district" and role == "district_viewer"
    return False


def reads_imported(endpoint: str, role: str, target: str | None) -> bool:
    if endpoint == "results.imported":
        return role in IMPORTED_AUDIENCE
    return endpoint == "upper.board" and target == "district" and role == "district_viewer"


LOCAL, IMPORTED = "local", "imported"


def result_data(response, m: Matrix) -> dict[str, str]:
    """The result data this response carries: what it is -> whose (LOCAL: the round's, IMPORTED: the sibling's)."""
    body = response.get_data()
    found = {}
    # no PDF among these requests is anything but the round's minutes, except the venue's printer test page (a QR
    # of the printer check and a ruler, made before any ballot: its name says which it is)
    if body.startswith(b"%PDF") and "trang-in-thu-dot-" not in response.headers.get("Content-Disposition", ""):
        found["a PDF"] = LOCAL
    text = body.decode("utf-8", "replace")
    if body.startswith(b"PK\x03\x04"):  # a workbook: its cells, as text, and the dashboard's numeric columns
        book = load_workbook(io.BytesIO(body), read_only=True)
        rows = [row for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]
        book.close()
        text = "\n".join("\t".join("" if v is None else str(v) for v in row) for row in rows)
        if any(0.75 in row for row in rows):
            found["the result's share 0.75 in a workbook"] = LOCAL
        for row in rows:
            if row and len(row) > 6 and any(isinstance(v, (int, float)) for v in row[6:]):
                if row[0] == "Đảng ủy xã Yên Bình":
                    found["the commune's figures in the dashboard's workbook"] = LOCAL
                elif row[0] == "Đảng ủy xã Hòa Lạc":
                    found["the sibling's figures in the dashboard's workbook"] = IMPORTED
    for name, marker in m.markers.items():
        if marker in text:
            found[f"the result's {name} {marker[:16]!r}"] = LOCAL
    for name, marker in m.imported_markers.items():
        if marker in text:
            found[f"the imported result's {name} {marker[:16]!r}"] = IMPORTED
    if re.search(r">\s*4/5\s*<", text):
        found["the round's collected/issued on the dashboard"] = LOCAL
    if re.search(r">\s*9/9\s*<", text):
        found["the imported collected/issued on the dashboard"] = IMPORTED
    return found


# --- the test ----------------------------------------------------------------------------------------------------

def test_every_route_has_an_expected_status_for_every_role(instance):
    app = create_app(Settings.from_env({"TRUSTVOTE_INSTANCE": str(instance),  # no database is touched here
                                        "TRUSTVOTE_DATABASE_URL": f"sqlite:///{instance / 'unused.db'}"}))
    routed = {(rule.endpoint, method) for rule in app.url_map.iter_rules() if rule.endpoint != "static"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    tabled = {(endpoint, method) for endpoint, methods in EXPECTED.items() for method in methods}
    assert not routed - tabled, f"routes with no expected status: add them to EXPECTED: {sorted(routed - tabled)}"
    assert not tabled - routed, f"EXPECTED names routes that no longer exist: {sorted(tabled - routed)}"


def test_every_route_answers_every_role_as_the_table_says_and_leaks_no_result(app, instance, session, world,
                                                                               login_as):
    m = build_matrix(session, world, signing.load_private_key(instance / SIGNING_KEY_FILE))
    clients = {role: Role(app, role, login_as, m) for role in ROLES}
    # the board last before publication: its own POST publishes the round, as the count page's button does
    order = sorted(ROLES, key=lambda role: role in BOARD)
    problems, seen = [], set()
    for published in (False, True):
        if published:
            _publish(session, m, world)
        phase = "after publication" if published else "before publication"
        for role in order:
            client = clients[role]
            for case in cases(app, m, role, published):
                methods = EXPECTED.get(case.endpoint, {})
                if case.method not in methods:
                    continue  # reported by the test above
                response = client.request(case.method, case.url, case.endpoint)
                problems += _check(response, methods[case.method](role, published, case.target),
                                   f"{role}: {case.method} {case.url} ({phase})", m, seen,
                                   local=reads_result(case.endpoint, role, published, case.target),
                                   imported=reads_imported(case.endpoint, role, case.target))
            for method, url, rule in ERRORS:
                url = url.format(round=m.round_id)
                problems += _check(client.request(method, url), rule(role, published, None),
                                   f"{role}: {method} {url} ({phase})", m, seen, local=False, imported=False)
    # the markers are the right ones: each shows where its readers look (else a leak of it would go unseen)
    everything = {"a PDF", "the result's share 0.75 in a workbook", "the commune's figures in the dashboard's "
                  "workbook", "the sibling's figures in the dashboard's workbook",
                  "the round's collected/issued on the dashboard", "the imported collected/issued on the dashboard"} | {
        f"the result's {name} {marker[:16]!r}" for name, marker in m.markers.items()} | {
        f"the imported result's {name} {marker[:16]!r}" for name, marker in m.imported_markers.items()}
    problems += [f"  never seen, even by its readers: {what}" for what in sorted(everything - seen)]
    assert not problems, f"{len(problems)} mismatches:\n" + "\n".join(problems)


def _check(response, expected: int, asked: str, m: Matrix, seen: set[str], *, local: bool,
           imported: bool) -> list[str]:
    """The mismatches of one response: its status, a server error, result data its reader may not see."""
    if isinstance(response, Exception):
        return [f"  {asked}: raised {response.__class__.__name__}: {response} (a 500)"]
    problems = []
    if response.status_code != expected:
        problems.append(f"  {asked}: {response.status_code}, expected {expected}")
    if response.status_code >= 500:
        problems.append(f"  {asked}: a server error")
    if CSRF_REFUSED.encode() in response.get_data():
        problems.append(f"  {asked}: the CSRF token was refused, so the status says nothing of the access check")
    for what, whose in result_data(response, m).items():
        if (local if whose == LOCAL else imported):
            seen.add(what)
        else:
            problems.append(f"  {asked} {response.status_code}: leaks {what}")
    return problems


def _publish(session, m: Matrix, world) -> None:
    """Between the phases: the board's POST has published the round; if it has not, that is reported (a status
    mismatch) and the round is published here, so that the second phase still tests what it is for."""
    fresh(session)
    round_ = session.get(Round, m.round_id)
    if round_.state != "published":
        publication.publish(session, round_, account=session.merge(world.accounts["teller"]))
        session.commit()
    assert session.get(Round, m.round_id).state == "published"
