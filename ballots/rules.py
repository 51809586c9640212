"""Rule sets: the settings a round is counted under, as data, and the exact thresholds.

A round names a preset (QĐ 96-QĐ/TW of 2023 by default, QĐ 262 of 2014, NQ 96/2023/QH15 for People's Councils,
the 2017 grassroots practice) and may override any setting while in draft, never after its ballots are issued:
the percentage base, whether a row with no box or several boxes voids the ballot or only that row, whether extra
writing voids it, the consequences the rule names for each threshold, how many places a person is rated in per
term, who reads the published result, how many tellers key each paper sheet, and who publishes;
how many tellers confirm a sheet the scanner read, and what becomes of the scanned images at the seal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from .errors import N_, InvalidInput

# What the percentages are taken over. QĐ 96 (Điều 6.3): ballots collected. NQ 85/2014 used all deputies.
BASES = ("collected", "issued", "convened")
# A row with no box or several boxes ticked: ambiguous in QĐ 96, so either the whole ballot or only that row.
INVALID_MARK_POLICIES = ("ballot", "row")
# Extra names or writing on the sheet: QĐ 262 (2014) voided the ballot; QĐ 96 is silent.
EXTRA_WRITING_POLICIES = ("void", "ignore")
# Who reads the published result: by default the committee itself and its direct upper-level committee; "above"
# widens "upper" to every committee above (the body that manages a cadre may be two levels up).
AUDIENCES = ("committee", "upper", "above", "candidate", "conference")
DEFAULT_AUDIENCE = ("committee", "upper")
# Who publishes a sealed result: QĐ 96 leaves it to the procedure ("as prescribed"), so it is a setting.
PUBLISHERS = ("board", "organizer")
# What becomes of the scanned images of paper sheets at the seal: destroyed (their key too, so that no backup can
# open them), or archived in the instance folder beside the signed result, as paper ballots are kept.
SCAN_RETENTIONS = ("delete", "archive")

# The three threshold flags, always computed and shown; a rule set names the consequence of some of them.
MORE_THAN_HALF = "more_than_half"  # 2*low > N
TWO_THIRDS_OR_MORE = "two_thirds_or_more"  # 3*low >= 2*N
MORE_THAN_TWO_THIRDS = "more_than_two_thirds"  # 3*low > 2*N
THRESHOLDS = (MORE_THAN_HALF, TWO_THIRDS_OR_MORE, MORE_THAN_TWO_THIRDS)


def crossed_thresholds(low: int, base: int) -> dict[str, bool]:
    """The three flags for one candidate, by exact integer arithmetic (never on rounded percentages).

    With an empty base (no ballot collected) no share exists, so no threshold is crossed.
    """
    if base <= 0:
        return dict.fromkeys(THRESHOLDS, False)
    return {
        MORE_THAN_HALF: 2 * low > base,
        TWO_THIRDS_OR_MORE: 3 * low >= 2 * base,
        MORE_THAN_TWO_THIRDS: 3 * low > 2 * base,
    }


@dataclass(frozen=True)
class RuleSet:
    """The settings of a round. A preset gives the defaults; a round in draft may override any of them."""

    key: str
    title: str
    base: str = "collected"
    invalid_mark_policy: str = "ballot"
    extra_writing_policy: str = "ignore"
    # threshold key -> the consequence as the rule's own (Vietnamese) words; thresholds not named carry none
    consequences: dict[str, str] = field(default_factory=dict)
    # how many committees one person may be rated at in one term; None means every committee (2017 practice)
    places_limit: int | None = 2
    audience: tuple[str, ...] = DEFAULT_AUDIENCE
    # independent keyings of each paper ballot that must agree before it counts
    paper_entries: int = 2
    # who publishes the sealed result to its audience: the counting board or the committee's organizers
    publisher: str = "board"
    # tellers' entries a sheet read by the scanner still needs, each equal to the scanner's reading: the scanner
    # is one entry and never enough alone (a sheet whose reading has a doubt needs `paper_entries` instead)
    machine_entries: int = 1
    # what becomes of the scanned images at the seal (SCAN_RETENTIONS)
    scan_retention: str = "delete"

    def settings(self) -> dict:
        """The overridable settings as plain values (what a round stores)."""
        values = asdict(self)
        del values["key"], values["title"]
        values["audience"] = list(self.audience)
        return values

    def with_settings(self, **overrides) -> "RuleSet":
        """A copy with some settings changed, checked. Raises InvalidInput naming the setting."""
        if "audience" in overrides:
            overrides["audience"] = tuple(overrides["audience"])
        changed = replace(self, **overrides)
        changed.check()
        return changed

    def check(self) -> None:
        if self.base not in BASES:
            raise InvalidInput(N_("Unknown percentage base: %(value)s."), value=self.base)
        if self.invalid_mark_policy not in INVALID_MARK_POLICIES:
            raise InvalidInput(N_("Unknown invalid-mark policy: %(value)s."), value=self.invalid_mark_policy)
        if self.extra_writing_policy not in EXTRA_WRITING_POLICIES:
            raise InvalidInput(N_("Unknown extra-writing policy: %(value)s."), value=self.extra_writing_policy)
        if set(self.consequences) - set(THRESHOLDS):
            raise InvalidInput(N_("Unknown threshold: %(value)s."), value=", ".join(sorted(self.consequences)))
        if self.places_limit is not None and self.places_limit < 1:
            raise InvalidInput(N_("The places-per-person limit must be at least 1."))
        if not self.audience or set(self.audience) - set(AUDIENCES):
            raise InvalidInput(N_("The publication audience must name at least one known group."))
        if self.paper_entries not in (2, 3):
            raise InvalidInput(N_("Each paper ballot is entered by 2 or 3 tellers."))
        if self.publisher not in PUBLISHERS:
            raise InvalidInput(N_("Unknown publisher: %(value)s."), value=self.publisher)
        if self.machine_entries not in (1, 2):
            raise InvalidInput(N_("A scanned paper ballot is confirmed by 1 or 2 tellers."))
        if self.scan_retention not in SCAN_RETENTIONS:
            raise InvalidInput(N_("Unknown choice for the scanned images: %(value)s."), value=self.scan_retention)


PRESETS: dict[str, RuleSet] = {
    rule.key: rule
    for rule in (
        RuleSet(
            key="qd96-2023",
            title="Quy định 96-QĐ/TW (2023)",
            consequences={
                MORE_THAN_HALF: "Trên 1/2 tín nhiệm thấp: không quy hoạch vào chức vụ cao hơn; "
                "có thể xin từ chức hoặc xem xét miễn nhiệm",
                TWO_THIRDS_OR_MORE: "Từ 2/3 trở lên tín nhiệm thấp: cấp có thẩm quyền xem xét cho thôi giữ chức vụ",
            },
            places_limit=2,
        ),
        RuleSet(
            key="qd262-2014",
            title="Quy định 262-QĐ/TW (2014)",
            extra_writing_policy="void",
            consequences={
                MORE_THAN_HALF: "Trên 1/2 tín nhiệm thấp: xem xét cho thôi giữ chức vụ hoặc xin từ chức",
                TWO_THIRDS_OR_MORE: "Từ 2/3 trở lên tín nhiệm thấp: cấp có thẩm quyền xem xét miễn nhiệm",
            },
            places_limit=2,
        ),
        RuleSet(
            key="nq96-2023-qh15",
            title="Nghị quyết 96/2023/QH15 (Hội đồng nhân dân)",
            consequences={
                MORE_THAN_HALF: "Trên 1/2 tín nhiệm thấp: có thể xin từ chức",
                TWO_THIRDS_OR_MORE: "Từ 2/3 trở lên tín nhiệm thấp: trình bỏ phiếu miễn nhiệm",
            },
            places_limit=2,
        ),
        RuleSet(
            key="grassroots-2017",
            title="Hướng dẫn sơ kết giữa nhiệm kỳ (2017): mọi cấp ủy viên, tại từng cấp ủy",
            consequences={MORE_THAN_HALF: "Trên 1/2 tín nhiệm thấp: xem xét theo quy định"},
            places_limit=None,
            paper_entries=3,
            machine_entries=2,
        ),
    )
}
DEFAULT_PRESET = "qd96-2023"


def preset(key: str) -> RuleSet:
    """The named preset. Raises InvalidInput for an unknown key."""
    try:
        return PRESETS[key]
    except KeyError:
        raise InvalidInput(N_("Unknown rule set: %(value)s."), value=key) from None


# the settings a round stores, one column each (everything of a RuleSet but its key and title)
SETTINGS = tuple(f.name for f in fields(RuleSet) if f.name not in ("key", "title"))


def rule_set_of(round_) -> RuleSet:
    """The rule set a round is counted under: its preset with the round's own settings."""
    stored = {name: getattr(round_, name) for name in SETTINGS}
    stored["consequences"] = dict(stored["consequences"])
    return preset(round_.rule_set).with_settings(**stored)


def recorded(settings: dict) -> RuleSet:
    """The rule set as a result document records it ({"key": ..., and the settings}); a key that is not a
    preset here (a document from a newer instance) keeps its settings and takes its key as its title."""
    values = {name: value for name, value in settings.items() if name in SETTINGS}
    if "audience" in values:
        values["audience"] = tuple(values["audience"])
    known = PRESETS.get(settings["key"])
    return RuleSet(key=settings["key"], title=known.title if known else settings["key"], **values)
