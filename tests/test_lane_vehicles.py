"""A vehicle's occupants at the lane, on a fake clock: as many screenings as the guard said were
in it, within guard.vehicle_window_s; a pedestrian after them is never recorded as an occupant,
and a staff sign-on is not refused for a vehicle."""

from __future__ import annotations

import pytest

from bench.gate_sim import sim_gate
from kiosk.guard_desk import GuardDesk

WANG = {"guard_id": "wang", "name": "王师傅"}


@pytest.fixture
def g(make_config):
    return sim_gate(make_config(guard__vehicle_window_s=20))


def test_only_the_occupants_the_guard_counted_are_the_vehicles(g):
    car = GuardDesk(g.gate).register_vehicle("京A12345", "in", WANG, occupants=2)
    assert [g.person_passes()["links_to"] for _ in range(3)] == [car["id"], car["id"], None]


def test_the_occupants_context_ends_after_its_window(g):
    GuardDesk(g.gate).register_vehicle("京A12345", "in", WANG, occupants=3)
    g.run(21)
    assert g.person_passes()["links_to"] is None


def test_the_guard_ends_it(g):
    desk = GuardDesk(g.gate)
    desk.register_vehicle("京A12345", "in", WANG, occupants=3)
    desk.end_vehicle()
    assert g.person_passes()["links_to"] is None


def test_a_sign_on_is_not_refused_while_a_vehicle_waits_for_its_occupants(g):
    """Field trial: after a car was logged, sign-on was refused with 「住户正在测温或仍站在探头前」
    while the lane was empty."""
    desk = GuardDesk(g.gate)
    desk.register_vehicle("京A12345", "in", WANG, occupants=2)
    desk.sign_on(WANG, visitors_at_home=False)
    assert g.gate.staff_result["state"] == "measuring"


def test_a_vehicle_going_out_takes_nobody(g):
    GuardDesk(g.gate).register_vehicle("京A12345", "out", WANG, occupants=2)
    assert g.person_passes()["links_to"] is None
