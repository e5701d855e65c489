from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.visitors import FormError, parse_visitor
from sync.contract import mask_phone

PLACES = {"3": ["1", "2"], "4": ["1"]}
RISK = ["某市某区"]
GOOD = {
    "phone": "13812345678",
    "building": "3",
    "unit": "2",
    "purpose": "delivery",
    "risk_area": "none",
    "code_colour": "green",
    "name": "王先生",
    "room": "301",
    "id_number": "",
}


def parse(**changes):
    return parse_visitor({**GOOD, **changes}, places=PLACES, risk_areas=RISK)


def test_a_plain_visitor_is_not_held():
    visitor = parse()
    assert visitor.held_because is None
    assert (visitor.name, visitor.room, visitor.id_number) == ("王先生", "301", None)


@pytest.mark.parametrize(
    ("changes", "held"),
    [
        ({"risk_area": "某市某区"}, "risk_area"),
        ({"code_colour": "yellow"}, "code_yellow"),
        ({"code_colour": "red"}, "code_red"),
    ],
)
def test_held_for_the_guard(changes, held):
    assert parse(**changes).held_because == held


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "12345678901"}, "phone"),
        ({"phone": "1381234567"}, "phone"),
        ({"phone": 13812345678}, "phone"),
        ({"phone": "138123456789"}, "phone"),
        ({"building": "9"}, "building"),
        ({"unit": "3"}, "unit"),
        ({"purpose": "party"}, "purpose"),
        ({"risk_area": "火星"}, "risk_area"),
        ({"code_colour": "blue"}, "code_colour"),
        ({"name": "<script>alert(1)</script>"}, "name"),
        ({"name": "x" * 33}, "name"),
        ({"name": ["a"]}, "name"),
        ({"phone": None}, "phone"),
    ],
)
def test_bad_fields_are_named(changes, field):
    with pytest.raises(FormError) as caught:
        parse(**changes)
    assert caught.value.field == field


def test_mask_phone():
    assert mask_phone("13812345678") == "138****5678"


@given(
    st.dictionaries(
        st.sampled_from(list(GOOD)),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.floats(),
            st.text(max_size=40),
            st.lists(st.text(max_size=3), max_size=2),
        ),
    )
)
def test_any_input_is_a_visitor_or_a_form_error(changes):
    try:
        visitor = parse(**changes)
    except FormError as exc:
        assert exc.field in GOOD
        return
    assert visitor.phone.isdigit() and len(visitor.phone) == 11
    assert visitor.building in PLACES
