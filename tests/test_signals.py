"""Buzzer, relay and LED patterns, asserted on gpiozero's mock pins over time."""

from __future__ import annotations

import pytest

from drivers.signals import (
    FAULT_PATTERN,
    FEVER_ALARM,
    PASS_CHIRP,
    BuzzerSignals,
    GateRelay,
    StatusLeds,
)
from tests.gate_helpers import wait_until


def transitions(pin) -> list[tuple[float, bool]]:
    """(seconds since the first change, state) for each change after the initial state.
    MockPin records each change with the time since the previous one."""
    elapsed = 0.0
    result = []
    for index, change in enumerate(pin.states[1:]):
        elapsed += change.timestamp if index else 0.0
        result.append((round(elapsed, 3), bool(change.state)))
    return result


def test_pass_chirp_is_one_short_beep(mock_factory):
    buzzer = BuzzerSignals(18, pin_factory=mock_factory)
    pin = mock_factory.pin(18)
    pin.clear_states()
    buzzer.play(PASS_CHIRP)
    buzzer.wait(2)
    # MockPin times are the intervals between changes: on at once, off 80 ms later.
    pin.assert_states_and_times([(0.0, False), (0.0, True), (0.08, False)])
    assert not pin.state


def test_fever_alarm_repeats_until_silenced(mock_factory):
    buzzer = BuzzerSignals(18, pin_factory=mock_factory)
    pin = mock_factory.pin(18)
    pin.clear_states()
    buzzer.play(FEVER_ALARM, timeout_s=30)
    wait_until(lambda: len([s for _, s in transitions(pin) if s]) >= 2, what="two beeps")
    assert buzzer.playing == "fever"
    buzzer.silence()
    assert not pin.state
    ons = [t for t, state in transitions(pin) if state]
    assert len(ons) >= 2
    assert ons[1] - ons[0] == pytest.approx(0.6, abs=0.1)  # 0.4 s on, 0.2 s off
    buzzer.wait(2)  # the pattern's thread has ended: nothing turns the buzzer on again
    assert not pin.state


def test_fever_alarm_stops_by_itself_after_the_timeout(mock_factory):
    buzzer = BuzzerSignals(18, pin_factory=mock_factory)
    pin = mock_factory.pin(18)
    buzzer.play(FEVER_ALARM, timeout_s=1.0)
    buzzer.wait(3)
    assert not pin.state
    assert buzzer.playing is None


def test_fault_pattern_is_three_short_beeps_three_times(mock_factory):
    buzzer = BuzzerSignals(18, pin_factory=mock_factory)
    pin = mock_factory.pin(18)
    pin.clear_states()
    buzzer.play(FAULT_PATTERN)
    buzzer.wait(5)
    ons = [t for t, state in transitions(pin) if state]
    assert len(ons) == 9
    assert ons[1] - ons[0] == pytest.approx(0.2, abs=0.06)
    assert ons[3] - ons[2] == pytest.approx(0.8, abs=0.1)  # the pause between groups


def test_a_new_pattern_replaces_the_alarm(mock_factory):
    buzzer = BuzzerSignals(18, pin_factory=mock_factory)
    buzzer.play(FEVER_ALARM)
    buzzer.play(PASS_CHIRP)
    buzzer.wait(2)
    assert not mock_factory.pin(18).state
    assert buzzer.playing is None


@pytest.mark.parametrize(("active_high", "on_level"), [(True, True), (False, False)])
def test_relay_pulses_once_and_releases(mock_factory, active_high, on_level):
    relay = GateRelay(23, active_high=active_high, pulse_s=0.2, pin_factory=mock_factory)
    pin = mock_factory.pin(23)
    assert pin.state == (not on_level)  # closed at start
    pin.clear_states()
    relay.pulse()
    wait_until(
        lambda: [s for _, s in transitions(pin)][-2:] == [on_level, not on_level],
        what="the pulse on and off",
    )
    assert pin.state == (not on_level)
    on_at, off_at = (t for t, _ in transitions(pin)[-2:])
    assert off_at - on_at == pytest.approx(0.2, abs=0.06)


def test_relay_is_released_when_closed_mid_pulse(mock_factory):
    relay = GateRelay(23, pulse_s=5, pin_factory=mock_factory)
    relay.pulse()
    wait_until(lambda: mock_factory.pin(23).state, what="the pulse under way")
    relay.close()
    assert not mock_factory.pin(23).state


def test_relay_pulse_length_is_bounded(mock_factory):
    with pytest.raises(ValueError, match="pulse"):
        GateRelay(23, pulse_s=60, pin_factory=mock_factory)


def test_status_leds(mock_factory):
    leds = StatusLeds(5, 6, pin_factory=mock_factory)
    leds.show("block", hold_s=0.2)
    wait_until(lambda: mock_factory.pin(6).state, what="the red LED")
    assert not mock_factory.pin(5).state
    wait_until(lambda: not mock_factory.pin(6).state, what="the red LED off after its hold")
    leds.show("pass", hold_s=1)
    wait_until(lambda: mock_factory.pin(5).state, what="the green LED")
    leds.close()
