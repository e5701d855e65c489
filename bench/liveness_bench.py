"""False alarms of the frozen-chip rule on a healthy, noisy simulated chip, and how fast it
catches a chip that really froze (the baseline, measured in the same run).

The gate loop runs on a fake clock (nothing sleeps): long idle runs and busy runs (people
arriving at random, some touching "measure again", the room drifting), at the simulator's noise
and at half of it (a quieter chip than the MLX90614's datasheet figures).

Run: .venv/bin/python -m bench.liveness_bench [--idle-hours 24] [--busy-hours 8] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

from bench.gate_sim import sim_gate, simulate_gate
from kiosk.config import load_config


def _config(data_dir: Path):
    return load_config(
        None,
        {"kiosk.data_dir": str(data_dir), "sensor.simulate": True, "kiosk.identify": "off"},
    )


def false_alarms(hours: float, people_per_hour: int, noise_c: float, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        g = sim_gate(_config(Path(tmp)), noise_c=noise_c, seed=seed)
        reads_before = len(g.sim.calls)
        simulate_gate(g, hours, people_per_hour, random.Random(seed))
        return {
            "hours": hours,
            "people_per_hour": people_per_hour,
            "noise_c": noise_c,
            "seed": seed,
            "reads": (len(g.sim.calls) - reads_before) // 2,  # two registers per read
            "screenings": len(g.events("screening")),
            "false_faults": len(g.events("sensor_fault")),
            "fault_verdicts": sum(e["verdict"] == "fault" for e in g.events("screening")),
        }


def detection_s(seed: int) -> float:
    """Seconds from a chip freezing (on a person, idle afterwards) to the recorded fault."""
    with tempfile.TemporaryDirectory() as tmp:
        g = sim_gate(_config(Path(tmp)), seed=seed)
        rng = random.Random(seed)
        g.run(rng.uniform(5, 60))
        g.scene.person(36.6)
        g.run(rng.uniform(1.0, 3.0))
        g.sim.inject("stuck")
        frozen_at = g.clock()
        while not g.events("sensor_fault"):
            g.run(0.1)
        return g.clock() - frozen_at


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-hours", type=float, default=24.0)
    parser.add_argument("--busy-hours", type=float, default=8.0)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for seed in range(1, args.seeds + 1):
        for noise_c in (0.03, 0.015):
            runs.append(false_alarms(args.idle_hours, 0, noise_c, seed))
            runs.append(false_alarms(args.busy_hours, 240, noise_c, seed))
    for run in runs:
        print(json.dumps(run))
    hours = sum(r["hours"] for r in runs)
    faults = sum(r["false_faults"] + r["fault_verdicts"] for r in runs)
    delays = [detection_s(seed) for seed in range(1, 21)]
    print(
        json.dumps(
            {
                "simulated_hours": hours,
                "reads": sum(r["reads"] for r in runs),
                "screenings": sum(r["screenings"] for r in runs),
                "false_alarms": faults,
                "false_alarms_per_hour": faults / hours,
                "frozen_detected_s_median": round(statistics.median(delays), 2),
                "frozen_detected_s_max": round(max(delays), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
