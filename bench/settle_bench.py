"""Arrival → verdict with the adaptive settle against the fixed one, side by side in one run, on
the simulated chip under the real driver and a fake clock (so the figures are the lane's own
timing, not this machine's load): the kiosk's default timing, each person arriving at a random
moment of the poll cycle, the chip's filter at a random τ of 0.03-0.06 s (its default setting
settles in 0.1-0.25 s).

Also: the two settles' verdicts over a screening corpus (temperatures × ambient × noise), and
random fault traces (no admission while the chip is failing, in either mode).

    python -m bench.settle_bench [--people 400]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.gate_sim import SimGate, sim_gate
from kiosk.config import load_config

FAULTS = ("nack", "stuck", "error_flag", "bad_pec")


@dataclass
class Latency:
    median_s: float
    p95_s: float
    worst_s: float


def gate(folder: Path, *, adaptive: bool, seed: int, ambient_c: float = 24.0) -> SimGate:
    config = load_config(
        None,
        {
            "kiosk.data_dir": str(folder),
            "kiosk.result_hold_s": 1.0,
            "sensor.simulate": True,
            "screening.adaptive_settle": adaptive,
        },
    )
    g = sim_gate(config, seed=seed)
    g.scene.set_ambient(ambient_c)
    return g


def latencies(adaptive: bool, people: int, seed: int) -> tuple[Latency, list[tuple[float, str]]]:
    """Arrival → the verdict on screen, for ``people`` who each step up to an empty lane."""
    rng = random.Random(seed)
    times, verdicts = [], []
    with tempfile.TemporaryDirectory() as folder:
        g = gate(Path(folder), adaptive=adaptive, seed=seed)
        g.run(1.0)
        for _ in range(people):
            g.scene.tau_s = rng.uniform(0.03, 0.06)
            core_c = rng.choice([36.2, 36.5, 36.8, 37.0, 37.6, 38.4])
            before = len(g.events("screening"))
            wait = g.gate.step()  # the loop then sleeps ``wait``: the person comes meanwhile
            phase = rng.uniform(0.0, wait)
            g.clock.advance(phase)
            arrived = g.clock()
            g.scene.person(core_c)
            g.clock.advance(wait - phase)
            while len(g.events("screening")) == before and g.clock() - arrived < 5:
                g.clock.advance(g.gate.step())
            screen = g.gate.screen.snapshot()
            times.append(screen["published_at"] - arrived)
            verdicts.append((core_c, g.events("screening")[-1]["verdict"]))
            g.scene.leave()
            g.run(1.5)
            if g.gate.awaiting_guard is not None:
                g.gate.guard_decided(g.gate.awaiting_guard["id"])
            g.run(1.2)
        g.ledger.close()
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return Latency(statistics.median(times), p95, max(times)), verdicts


def corpus_verdicts(adaptive: bool) -> dict[tuple[float, float, int], str]:
    """The verdict for each (core °C, ambient °C, noise seed) of the corpus."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        for ambient_c in (12.0, 20.0, 28.0):
            for seed in range(3):
                g = gate(Path(folder) / f"{ambient_c}-{seed}", adaptive=adaptive, seed=seed)
                g.scene.set_ambient(ambient_c)
                g.run(1.0)
                for tenth in range(350, 396, 3):
                    core_c = tenth / 10
                    g.scene.person(core_c)
                    g.run(0.9)
                    out[(core_c, ambient_c, seed)] = g.events("screening")[-1]["verdict"]
                    g.scene.leave()
                    g.run(1.2)
                    if g.gate.awaiting_guard is not None:
                        g.gate.guard_decided(g.gate.awaiting_guard["id"])
                    g.run(1.2)
                g.ledger.close()
    return out


def fault_trace(adaptive: bool, seed: int, people: int = 60) -> dict[str, int]:
    """People step up while faults come and go at random: admissions while a fault is active."""
    rng = random.Random(seed)
    bad = 0
    with tempfile.TemporaryDirectory() as folder:
        g = gate(Path(folder), adaptive=adaptive, seed=seed)
        active: str | None = None
        admitted_during: list[str] = []

        def seen(record: dict[str, Any]) -> None:
            if record["kind"] == "screening" and record["verdict"] == "admitted" and active:
                admitted_during.append(active)

        g.gate.add_listener(seen)
        for _ in range(people):
            if rng.random() < 0.2:
                active = rng.choice(FAULTS)
                g.sim.inject(active)  # type: ignore[arg-type]
            elif active and rng.random() < 0.4:
                g.sim.clear_faults()
                active = None
            g.scene.person(rng.choice([36.5, 36.9, 38.0]))
            g.run(rng.uniform(0.2, 2.0))
            g.scene.leave()
            g.run(rng.uniform(0.0, 1.0))
            if g.gate.awaiting_guard is not None:
                g.gate.guard_decided(g.gate.awaiting_guard["id"])
        bad = len(admitted_during)
        screenings = len(g.events("screening"))
        g.ledger.close()
    return {"screenings": screenings, "admitted_on_a_fault": bad}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=400)
    args = parser.parse_args()
    fixed, fixed_verdicts = latencies(False, args.people, seed=7)
    adaptive, adaptive_verdicts = latencies(True, args.people, seed=7)
    print("arrival → verdict (simulated time, the kiosk's default timing)")
    for name, lat in (("fixed 0.5 s", fixed), ("adaptive", adaptive)):
        print(
            f"  {name:12} median {lat.median_s:.3f} s  p95 {lat.p95_s:.3f} s"
            f"  worst {lat.worst_s:.3f} s"
        )
    print(f"  adaptive/fixed median ratio {adaptive.median_s / fixed.median_s:.2f}")
    same = sum(a == b for a, b in zip(fixed_verdicts, adaptive_verdicts, strict=True))
    print(f"  same verdicts for the same people: {same}/{len(fixed_verdicts)}")
    a, b = corpus_verdicts(False), corpus_verdicts(True)
    differ = {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    print(f"corpus: {len(a) - len(differ)}/{len(a)} verdicts the same; differing: {differ}")
    for adaptive_mode in (False, True):
        totals = [fault_trace(adaptive_mode, seed) for seed in range(5)]
        print(
            f"fault traces ({'adaptive' if adaptive_mode else 'fixed'}): "
            f"{sum(t['screenings'] for t in totals)} screenings, "
            f"{sum(t['admitted_on_a_fault'] for t in totals)} admitted while a fault was active"
        )


if __name__ == "__main__":
    main()
