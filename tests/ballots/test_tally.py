"""The tally, against a naive recount written separately here, and on hand-worked rounds."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballots import rules
from ballots.tally import (
    BAD_MARKS,
    CROSSED_OUT,
    EXTRA_WRITING,
    NOT_ISSUED,
    Sheet,
    named_consequences,
    percent,
    tally,
)


def naive_recount(sheets, candidates, rule_set, convened, issued):
    """The rules read one by one, with no shared code: what a teller with a pencil would do."""
    per = [{"high": 0, "trust": 0, "low": 0, "invalid": 0} for _ in range(candidates)]
    valid = 0
    for sheet in sheets:
        if "not_issued" in sheet.flaws or "crossed_out" in sheet.flaws:
            continue
        if "extra_writing" in sheet.flaws and rule_set.extra_writing_policy == "void":
            continue
        if rule_set.invalid_mark_policy == "ballot" and (0 in sheet.marks or 4 in sheet.marks):
            continue
        valid += 1
        for row in range(candidates):
            mark = sheet.marks[row]
            key = {1: "high", 2: "trust", 3: "low"}.get(mark, "invalid")
            per[row][key] += 1
    collected = len(sheets)
    base = collected if rule_set.base == "collected" else issued if rule_set.base == "issued" else convened
    for row in per:
        if base == 0:  # no ballot: no share, no threshold crossed
            row.update(more_than_half=False, two_thirds_or_more=False, more_than_two_thirds=False)
            continue
        row["more_than_half"] = Decimal(row["low"]) > Decimal(base) / 2
        row["two_thirds_or_more"] = Decimal(row["low"]) >= Decimal(base) * 2 / 3
        row["more_than_two_thirds"] = Decimal(row["low"]) > Decimal(base) * 2 / 3
    return collected, valid, base, per


rule_sets = st.sampled_from(list(rules.PRESETS.values())).flatmap(
    lambda preset: st.builds(
        preset.with_settings,
        base=st.sampled_from(rules.BASES),
        invalid_mark_policy=st.sampled_from(rules.INVALID_MARK_POLICIES),
        extra_writing_policy=st.sampled_from(rules.EXTRA_WRITING_POLICIES),
    )
)


@st.composite
def rounds(draw):
    candidates = draw(st.integers(1, 40))
    count = draw(st.one_of(st.integers(0, 60), st.integers(0, 3000)))
    # mostly clean ballots, with invalid marks and flawed sheets mixed in
    mark = st.sampled_from([1, 1, 2, 2, 2, 3, 3, 0, 4])
    flaws = st.frozensets(st.sampled_from(["not_issued", "crossed_out", "extra_writing"]), max_size=2)
    seed_sheets = draw(st.lists(st.tuples(st.lists(mark, min_size=candidates, max_size=candidates),
                                          st.one_of(st.just(frozenset()), flaws)),
                                min_size=min(count, 40), max_size=min(count, 40)))
    # a large round repeats the drawn sheets: the arithmetic is what is under test, not the variety
    sheets = [Sheet(bytes(seed_sheets[i % len(seed_sheets)][0]), seed_sheets[i % len(seed_sheets)][1])
              for i in range(count)] if seed_sheets else []
    issued = draw(st.integers(0, count + 50))
    convened = draw(st.integers(0, max(count, issued) + 50))
    return candidates, sheets, convened, issued, draw(rule_sets)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                                    HealthCheck.data_too_large])
@given(rounds())
def test_the_tally_equals_a_naive_recount(round_):
    candidates, sheets, convened, issued, rule_set = round_
    result = tally(sheets, candidates=candidates, rule_set=rule_set, convened=convened, present=convened,
                   issued=issued)
    collected, valid, base, per = naive_recount(sheets, candidates, rule_set, convened, issued)
    assert (result.collected, result.valid, result.invalid, result.base) == (collected, valid, collected - valid,
                                                                            base)
    assert sum(result.invalid_reasons.values()) == result.invalid
    for count, expected in zip(result.candidates, per, strict=True):
        assert (count.high, count.trust, count.low, count.invalid) == (
            expected["high"], expected["trust"], expected["low"], expected["invalid"])
        for key in rules.THRESHOLDS:
            assert count.flags[key] == expected[key]
        if rule_set.invalid_mark_policy == "ballot":
            assert count.high + count.trust + count.low == valid and count.invalid == 0


QD96 = rules.preset("qd96-2023")


def sheets_of(*groups):
    """(how many, marks) groups: e.g. (17, b"\\x03") is 17 sheets rating the only candidate low."""
    return [Sheet(marks) for number, marks in groups for _ in range(number)]


def test_17_low_of_33_collected_is_more_than_half():
    # 2*17 = 34 > 33: more than half; 3*17 = 51 < 66: not two thirds
    result = tally(sheets_of((17, b"\x03"), (16, b"\x01")), candidates=1, rule_set=QD96, convened=35, present=33,
                   issued=33)
    flags = result.candidates[0].flags
    assert (result.base, result.candidates[0].low) == (33, 17)
    assert flags == {"more_than_half": True, "two_thirds_or_more": False, "more_than_two_thirds": False}
    assert percent(17, 33) == "51.52"  # 51.5151… rounds half up to 51.52


def test_22_low_of_33_is_exactly_two_thirds_but_not_more():
    # 3*22 = 66 >= 66: two thirds or more; 66 is not > 66
    result = tally(sheets_of((22, b"\x03"), (11, b"\x02")), candidates=1, rule_set=QD96, convened=33, present=33,
                   issued=33)
    assert result.candidates[0].flags == {"more_than_half": True, "two_thirds_or_more": True,
                                          "more_than_two_thirds": False}
    assert percent(22, 33) == "66.67"


def test_invalid_ballots_stay_in_the_base_so_percentages_need_not_add_up():
    # 10 collected: 2 crossed out (invalid), 8 valid: 4 high, 3 trust, 1 low, all over 10
    sheets = sheets_of((4, b"\x01"), (3, b"\x02"), (1, b"\x03"))
    sheets += [Sheet(b"\x01", frozenset({CROSSED_OUT})), Sheet(b"\x02", frozenset({CROSSED_OUT}))]
    result = tally(sheets, candidates=1, rule_set=QD96, convened=12, present=10, issued=10)
    count = result.candidates[0]
    assert (result.collected, result.valid, result.invalid, result.invalid_reasons) == (10, 8, 2, {CROSSED_OUT: 2})
    assert [percent(n, result.base) for n in (count.high, count.trust, count.low)] == ["40.00", "30.00", "10.00"]


def test_an_unmarked_row_voids_the_sheet_or_only_the_row_as_the_rule_set_says():
    sheets = [Sheet(b"\x01\x00"), Sheet(b"\x03\x02"), Sheet(b"\x04\x01")]
    whole = tally(sheets, candidates=2, rule_set=QD96, convened=3, present=3, issued=3)
    assert (whole.valid, whole.invalid_reasons) == (1, {BAD_MARKS: 2})
    assert (whole.candidates[0].low, whole.candidates[1].trust) == (1, 1)
    by_row = tally(sheets, candidates=2, rule_set=QD96.with_settings(invalid_mark_policy="row"), convened=3,
                   present=3, issued=3)
    assert by_row.valid == 3
    first, second = by_row.candidates
    assert (first.high, first.low, first.invalid) == (1, 1, 1)  # b"\x04" is two boxes: that row only
    assert (second.high, second.trust, second.invalid) == (1, 1, 1)


def test_extra_writing_voids_a_sheet_only_where_the_rule_set_says_so():
    sheets = [Sheet(b"\x01", frozenset({EXTRA_WRITING}))]
    assert tally(sheets, candidates=1, rule_set=QD96, convened=1, present=1, issued=1).valid == 1
    qd262 = rules.preset("qd262-2014")
    assert tally(sheets, candidates=1, rule_set=qd262, convened=1, present=1, issued=1).invalid_reasons == {
        EXTRA_WRITING: 1}


def test_a_sheet_not_issued_by_the_board_is_collected_invalid_and_can_make_an_anomaly():
    sheets = sheets_of((2, b"\x01")) + [Sheet(b"\x00", frozenset({NOT_ISSUED}))]
    result = tally(sheets, candidates=1, rule_set=QD96, convened=3, present=2, issued=2)
    assert (result.collected, result.invalid_reasons) == (3, {NOT_ISSUED: 1})
    assert result.anomalies == ("collected_exceeds_issued",)


def test_a_sheet_not_issued_by_the_board_does_not_hide_an_issued_ballot_that_never_came_back():
    # 4 issued; 2 came back, plus 1 sheet nobody issued: 3 collected, but 4 - (3 - 1) = 2 issued ballots are missing
    sheets = sheets_of((2, b"\x01")) + [Sheet(b"\x00", frozenset({NOT_ISSUED}))]
    result = tally(sheets, candidates=1, rule_set=QD96, convened=4, present=4, issued=4)
    assert (result.collected, result.not_collected) == (3, 2)


def test_the_base_can_be_the_ballots_issued_or_the_number_convened():
    sheets = sheets_of((5, b"\x03"), (3, b"\x01"))
    # 5 low of 8 collected is more than half; of 12 issued it is not (2*5 = 10 < 12)
    issued = tally(sheets, candidates=1, rule_set=QD96.with_settings(base="issued"), convened=20, present=12,
                   issued=12)
    assert (issued.base, issued.candidates[0].flags["more_than_half"]) == (12, False)
    convened = tally(sheets, candidates=1, rule_set=QD96.with_settings(base="convened"), convened=9, present=9,
                     issued=8)
    assert (convened.base, convened.candidates[0].flags["more_than_half"]) == (9, True)  # 10 > 9


def test_the_rule_set_names_the_consequences_of_the_thresholds_crossed():
    result = tally(sheets_of((3, b"\x03")), candidates=1, rule_set=QD96, convened=3, present=3, issued=3)
    assert named_consequences(result.candidates[0], QD96) == [QD96.consequences["more_than_half"],
                                                              QD96.consequences["two_thirds_or_more"]]


def test_no_sheet_gives_an_empty_base_and_no_percentage():
    result = tally([], candidates=2, rule_set=QD96, convened=10, present=0, issued=0)
    assert (result.collected, result.base, percent(0, result.base)) == (0, 0, "—")
    assert not any(result.candidates[0].flags.values())


def test_a_sheet_with_the_wrong_number_of_marks_is_a_programming_error():
    with pytest.raises(ValueError):
        tally([Sheet(b"\x01\x02")], candidates=1, rule_set=QD96, convened=1, present=1, issued=1)
