"""The screening rule, table-driven and property-based."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.screening import Reason, Rules, Verdict, decide, estimate_core_c, no_reading, tenth

RULES = Rules()  # forehead, +2.6 °C, threshold 37.3, plausible 34-43, spread 0.5


def steady(object_c: float, ambient_c: float = 24.0, n: int = 5):
    return [(object_c, ambient_c)] * n


@pytest.mark.parametrize(
    ("object_c", "verdict", "reason", "shown"),
    [
        (34.0, Verdict.ADMITTED, None, 36.6),
        (34.7, Verdict.ADMITTED, None, 37.3),  # at the threshold: not above it
        (34.74, Verdict.ADMITTED, None, 37.3),  # 37.34 shows 37.3 and is judged 37.3
        (34.75, Verdict.BLOCKED, Reason.FEVER, 37.4),  # 37.35 rounds half up to 37.4
        (35.6, Verdict.BLOCKED, Reason.FEVER, 38.2),
        (31.4, Verdict.ADMITTED, None, 34.0),  # the lowest plausible estimate
        (31.3, Verdict.RETRY, Reason.TOO_COLD, None),
        (40.4, Verdict.BLOCKED, Reason.FEVER, 43.0),  # the highest plausible estimate
        (40.5, Verdict.RETRY, Reason.TOO_HOT, None),
        (60.0, Verdict.RETRY, Reason.TOO_HOT, None),  # a hot cup of tea
        (-10.0, Verdict.RETRY, Reason.TOO_COLD, None),
    ],
)
def test_verdicts(object_c, verdict, reason, shown):
    decision = decide(steady(object_c), RULES)
    assert (decision.verdict, decision.reason, decision.estimate_c) == (verdict, reason, shown)
    assert decision.threshold_c == 37.3
    assert decision.admits is (verdict is Verdict.ADMITTED)


def test_median_resists_one_outlier():
    samples = [(34.0, 24.0), (34.1, 24.0), (34.0, 24.0), (34.05, 24.0), (34.3, 24.0)]
    assert decide(samples, RULES).estimate_c == 36.7


def test_wide_spread_is_unstable():
    samples = [(34.0, 24.0), (34.2, 24.0), (34.6, 24.0)]
    decision = decide(samples, RULES)
    assert (decision.verdict, decision.reason, decision.estimate_c) == (
        Verdict.RETRY,
        Reason.UNSTABLE,
        None,
    )
    assert decision.spread_c == 0.6


def test_threshold_in_force_is_used_and_reported():
    rules = Rules(threshold_c=37.0)
    decision = decide(steady(34.5), rules)
    assert decision.verdict is Verdict.BLOCKED
    assert decision.threshold_c == 37.0


@pytest.mark.parametrize(
    ("rules", "object_c", "ambient_c", "expected"),
    [
        (Rules(site="wrist", site_compensation_c=3.4), 33.2, 24.0, 36.6),
        (Rules(site_offset_c=0.3), 34.0, 24.0, 36.9),
        (Rules(model="ambient", ambient_coeff=0.1), 33.0, 14.0, 36.6),  # cold morning: +1.0
        (Rules(model="ambient", ambient_coeff=0.1), 34.0, 24.0, 36.6),  # at the reference
        (Rules(model="offset"), 33.0, 14.0, 35.6),  # the plain model ignores ambient
    ],
)
def test_compensation(rules, object_c, ambient_c, expected):
    assert float(tenth(estimate_core_c(object_c, ambient_c, rules))) == pytest.approx(expected)


def test_tenth_rounds_half_up_without_float_artefacts():
    assert tenth(36.65) == Decimal("36.7")
    assert tenth(37.25) == Decimal("37.3")
    assert tenth(37.35) == Decimal("37.4")
    assert tenth(36.549999) == Decimal("36.5")


def test_no_reading_never_admits():
    assert no_reading(Reason.SENSOR, RULES).verdict is Verdict.FAULT
    left = no_reading(Reason.LEFT, RULES, [(34.0, 24.0)])
    assert left.verdict is Verdict.RETRY
    assert left.estimate_c is None
    assert left.object_c == 34.0


def test_empty_samples_are_a_programming_error():
    with pytest.raises(ValueError):
        decide([], RULES)


temperature = st.floats(min_value=-40, max_value=120, allow_nan=False)
sample = st.tuples(temperature, st.floats(min_value=-20, max_value=45, allow_nan=False))
rules = st.builds(
    Rules,
    threshold_c=st.floats(min_value=37.0, max_value=38.5),
    site_compensation_c=st.floats(min_value=0, max_value=6),
    site_offset_c=st.floats(min_value=-3, max_value=3),
    model=st.sampled_from(["offset", "ambient"]),
    max_spread_c=st.floats(min_value=0.05, max_value=3),
)


@given(st.lists(sample, min_size=1, max_size=25), rules)
def test_only_a_plausible_estimate_at_or_below_the_threshold_is_admitted(samples, rules):
    decision = decide(samples, rules)
    if decision.verdict is Verdict.ADMITTED:
        assert decision.estimate_c is not None
        assert rules.plausible_min_c <= decision.estimate_c <= float(tenth(rules.threshold_c))
        assert decision.spread_c is not None and decision.spread_c <= rules.max_spread_c


@given(st.lists(sample, min_size=1, max_size=25), rules)
def test_the_shown_value_is_the_judged_value(samples, rules):
    decision = decide(samples, rules)
    if decision.estimate_c is not None:
        shown = Decimal(f"{decision.estimate_c:.1f}")
        assert shown == Decimal(repr(decision.estimate_c))
        above = shown > tenth(rules.threshold_c)
        assert above == (decision.verdict is Verdict.BLOCKED)
    else:
        assert decision.verdict is Verdict.RETRY


@given(sample, rules)
def test_higher_readings_never_turn_a_block_into_admission(base, rules):
    lower = decide([base], rules)
    higher = decide([(base[0] + 0.5, base[1])], rules)
    if lower.verdict is Verdict.BLOCKED and higher.verdict is not Verdict.RETRY:
        assert higher.verdict is Verdict.BLOCKED
