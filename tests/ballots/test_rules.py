"""Rule sets and thresholds: pure, no database."""

import pytest

from ballots import rules
from ballots.errors import InvalidInput


def test_the_presets_named_in_the_domain_exist_and_qd96_is_the_default():
    assert {"qd96-2023", "qd262-2014", "nq96-2023-qh15", "grassroots-2017"} <= set(rules.PRESETS)
    assert rules.DEFAULT_PRESET == "qd96-2023"


def test_every_preset_is_consistent():
    for preset in rules.PRESETS.values():
        preset.check()


def test_qd96_counts_over_collected_with_two_places_and_the_seeds_audience():
    qd96 = rules.preset("qd96-2023")
    assert qd96.base == "collected"
    assert qd96.places_limit == 2
    assert qd96.audience == ("committee", "upper")
    assert set(qd96.consequences) == {rules.MORE_THAN_HALF, rules.TWO_THIRDS_OR_MORE}


def test_qd262_voids_ballots_with_extra_writing_and_qd96_does_not():
    assert rules.preset("qd262-2014").extra_writing_policy == "void"
    assert rules.preset("qd96-2023").extra_writing_policy == "ignore"


def test_grassroots_2017_rates_a_person_at_every_committee_and_keys_paper_three_times():
    grassroots = rules.preset("grassroots-2017")
    assert grassroots.places_limit is None
    assert grassroots.paper_entries == 3


def test_an_unknown_preset_is_refused():
    with pytest.raises(InvalidInput):
        rules.preset("qd-1999")


@pytest.mark.parametrize("override", [
    {"base": "present"}, {"invalid_mark_policy": "half"}, {"extra_writing_policy": "maybe"},
    {"places_limit": 0}, {"paper_entries": 4}, {"audience": []}, {"audience": ["everyone"]},
    {"consequences": {"most": "x"}},
])
def test_a_bad_override_is_refused(override):
    with pytest.raises(InvalidInput):
        rules.preset("qd96-2023").with_settings(**override)


def test_17_low_of_33_collected_is_more_than_half_but_not_two_thirds():
    # 2*17 = 34 > 33: more than half; 3*17 = 51 < 66 = 2*33: not two thirds
    flags = rules.crossed_thresholds(17, 33)
    assert flags == {rules.MORE_THAN_HALF: True, rules.TWO_THIRDS_OR_MORE: False, rules.MORE_THAN_TWO_THIRDS: False}


def test_exactly_half_is_not_more_than_half():
    # 2*15 = 30, not > 30
    assert rules.crossed_thresholds(15, 30)[rules.MORE_THAN_HALF] is False


def test_exactly_two_thirds_is_two_thirds_or_more_but_not_more_than_two_thirds():
    # 3*20 = 60 >= 60 = 2*30, and 60 is not > 60
    flags = rules.crossed_thresholds(20, 30)
    assert flags[rules.TWO_THIRDS_OR_MORE] is True
    assert flags[rules.MORE_THAN_TWO_THIRDS] is False


def test_one_more_than_two_thirds_crosses_every_threshold():
    # 3*21 = 63 > 60
    assert all(rules.crossed_thresholds(21, 30).values())
