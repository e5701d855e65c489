from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.plates import ENERGY, PROVINCES, PlateError, validate_plate


@pytest.mark.parametrize(
    ("raw", "plate"),
    [
        ("京A12345", "京A12345"),
        ("沪b 8x9y2", "沪B8X9Y2"),
        ("粤B·D12345", "粤BD12345"),  # small new-energy, battery electric
        ("粤BFA1234", "粤BFA1234"),  # small new-energy, hybrid, letter in 4th place
        ("浙A12345D", "浙A12345D"),  # large new-energy
        ("苏E1234学", "苏E1234学"),  # learner
        ("川A0012挂", "川A0012挂"),  # trailer
        ("粤Z1234港", "粤Z1234港"),
    ],
)
def test_valid_plates(raw, plate):
    assert validate_plate(raw) == plate


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "7 characters"),
        ("京A123456789", "7 characters"),
        ("AB12345", "province"),
        ("台A12345", "province"),  # not a mainland province abbreviation
        ("京I12345", "I or O"),
        ("京A1234O", "I or O"),
        ("京A1234", "not a valid plate"),
        ("京AX12345", "not a valid plate"),  # X is not an energy letter
        ("京AD1234X", "not a valid plate"),
        ("京A<b>12", "not a valid plate"),
    ],
)
def test_invalid_plates(raw, message):
    with pytest.raises(PlateError, match=message):
        validate_plate(raw)


LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
ALNUM = LETTERS + "0123456789"


@given(
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    st.text(alphabet=ALNUM, min_size=5, max_size=5),
)
def test_every_ordinary_plate_is_accepted(province, office, rest):
    assert validate_plate(province + office + rest) == province + office + rest


@given(
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    st.sampled_from(ENERGY),
    st.sampled_from(ALNUM),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)
def test_every_small_new_energy_plate_is_accepted(province, office, energy, fourth, digits):
    plate = province + office + energy + fourth + digits
    assert validate_plate(plate) == plate


@given(st.text(max_size=20))
def test_anything_else_is_a_plate_error_never_a_crash(raw):
    try:
        plate = validate_plate(raw)
    except PlateError:
        return
    assert plate[0] in PROVINCES and len(plate) in (7, 8)
