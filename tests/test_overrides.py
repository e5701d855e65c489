from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.overrides import parse_override
from kiosk.visitors import FormError

EVENT = "0b0c2f7e-6d3e-4c53-9a5e-6f1f3b2a9c10"


def parse(**body):
    return parse_override({"event_id": EVENT, **body}, threshold_c=37.3)


def test_admit_after_a_normal_remeasure():
    form = parse(decision="admit", reason="remeasured_normal", remeasured_c=36.94)
    assert (form.decision, form.remeasured_c) == ("admit", 36.9)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe", "reason": "other"}, "decision"),
        ({"decision": "admit", "reason": "fever_confirmed"}, "reason"),
        ({"decision": "admit", "reason": "remeasured_normal"}, "remeasured_c"),
        ({"decision": "admit", "reason": "emergency", "remeasured_c": 37.8}, "remeasured_c"),
        ({"decision": "admit", "reason": "emergency", "remeasured_c": "36.8"}, "remeasured_c"),
        ({"decision": "admit", "reason": "emergency", "remeasured_c": 20}, "remeasured_c"),
        ({"decision": "deny", "reason": "other"}, "note"),
        ({"decision": "deny", "reason": "other", "note": "<img src=x>"}, "note"),
        ({"decision": "deny", "reason": "fever_confirmed", "note": "x" * 201}, "note"),
        ({"event_id": "1; DROP TABLE", "decision": "deny", "reason": "risk_area"}, "event_id"),
    ],
)
def test_bad_overrides(body, field):
    with pytest.raises(FormError) as caught:
        parse(**body)
    assert caught.value.field == field


def test_deny_with_a_fever_value_is_fine():
    assert parse(decision="deny", reason="fever_confirmed", remeasured_c=38.4).remeasured_c == 38.4


@given(st.floats(min_value=34, max_value=43))
def test_an_admission_never_carries_a_value_above_the_threshold(value):
    try:
        form = parse(decision="admit", reason="remeasured_normal", remeasured_c=value)
    except FormError:
        return
    assert form.remeasured_c is not None and form.remeasured_c <= 37.3
