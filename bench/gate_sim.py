"""A gate driven step by step on a fake clock: the simulated chip under the real driver, a real
ledger, a relay that counts its pulses. Timing rules are tested without sleeping."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from bench.fake_clock import FakeClock
from drivers.mlx90614 import MLX90614
from drivers.mlx90614_sim import Scene, SimulatedMLX90614
from kiosk.config import Config
from kiosk.gate import Gate
from kiosk.hardware import Hardware
from kiosk.ledger import Ledger


class CountingRelay:
    def __init__(self) -> None:
        self.pulses = 0

    def pulse(self) -> None:
        self.pulses += 1

    def close(self) -> None:
        pass


@dataclass
class SimGate:
    gate: Gate
    clock: FakeClock
    sim: SimulatedMLX90614
    relay: CountingRelay
    ledger: Ledger

    @property
    def scene(self) -> Scene:
        return self.sim.scene

    def run(self, seconds: float) -> None:
        """Let the gate loop run for ``seconds`` of simulated time."""
        end = self.clock() + seconds
        while self.clock() < end:
            self.clock.advance(self.gate.step())

    def person_passes(self, core_c: float = 36.6, stays_s: float = 0.8) -> dict[str, Any]:
        """One person steps up, is judged, and leaves (before the verdict's hold ends, with
        time for the lane to see them gone): their screening."""
        self.scene.person(core_c)
        self.run(stays_s)
        record = self.events("screening")[-1]
        self.scene.leave()
        self.run(1.5)
        return record

    def screen(self) -> str:
        return self.gate.screen.snapshot()["screen"]

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.ledger.events() if kind is None or e["kind"] == kind]


def sim_gate(
    config: Config,
    *,
    noise_c: float = 0.03,
    seed: int = 1,
    clock: FakeClock | None = None,
    ledger: Ledger | None = None,
) -> SimGate:
    clock = clock or FakeClock()
    sim = SimulatedMLX90614(Scene(clock=clock, noise_c=noise_c, seed=seed), clock=clock)
    relay = CountingRelay()
    thermometer = MLX90614(sim, retry_delay_s=0)
    hardware = Hardware(thermometer, None, relay, None, None, None, sim)  # type: ignore[arg-type]
    if ledger is None:
        ledger = Ledger(config.data_dir / "ledger.sqlite3", config.kiosk.id)
    gate = Gate(config, hardware, ledger, clock=clock, sleep=clock.sleep)
    gate.show_first_screen()
    return SimGate(gate, clock, sim, relay, ledger)


def simulate_gate(g: SimGate, hours: float, people_per_hour: int, rng: random.Random) -> None:
    """People arrive at random (none for an idle run), stand 2-8 s, some touch "measure again";
    the room drifts slowly."""
    g.scene.set_ambient(22.0, drift_c_per_min=0.02)
    end = g.clock() + hours * 3600
    while g.clock() < end:
        if not people_per_hour:
            g.run(600.0)
            continue
        g.run(rng.expovariate(people_per_hour / 3600))
        g.scene.person(rng.uniform(35.8, 37.2))
        g.run(rng.uniform(1.5, 4.0))
        if rng.random() < 0.3:
            g.gate.measure_again()
        g.run(rng.uniform(0.5, 4.0))
        g.scene.leave()
