"""The lane's transition table: every (state, event) pair declared, every state has a way back
to idle, and the docs' chart is the table's."""

from __future__ import annotations

from pathlib import Path

from kiosk.lane import TRANSITIONS, WAY_BACK, Event, State, after, mermaid, outcome

ROOT = Path(__file__).resolve().parent.parent


def test_every_state_and_event_has_a_declared_outcome():
    assert set(TRANSITIONS) == {(s, e) for s in State for e in Event}
    for (state, event), result in TRANSITIONS.items():
        assert outcome(state, event) is result
        # exactly one of: a move, an effect, a refusal, or declared ignored
        assert result.refused is None or (result.target is None and result.effect is None)


def test_from_every_state_some_actor_brings_the_lane_back_to_idle():
    """Breadth-first over the table (with and without a block waiting): idle is reachable from
    every state by events that a person, a guard, the clock or the chip can cause."""
    for block_waits in (False, True):
        for start in State:
            seen, frontier = {start}, [start]
            while frontier:
                state = frontier.pop()
                for event in Event:
                    nxt = after(state, event, block_waits=block_waits)
                    if nxt not in seen:
                        seen.add(nxt)
                        frontier.append(nxt)
            assert State.IDLE in seen, (start, block_waits)
    assert set(WAY_BACK) == set(State)


def test_no_measurement_starts_while_a_fever_block_waits():
    for state in (State.BLOCKED, State.AWAITING_GUARD):
        for event in (Event.PRESENT, Event.PRESENT_NO_PASS, Event.MEASURE_AGAIN):
            assert after(state, event, block_waits=True) is state


def test_the_docs_chart_is_generated_from_the_table():
    text = (ROOT / "docs" / "screening.md").read_text(encoding="utf-8")
    assert "```mermaid\n" + mermaid() + "\n```" in text, "run: kiosk lane-doc --write"
