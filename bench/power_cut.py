"""The power-cut check at benchmark scale: more SIGKILLs than the test suite runs.

Run: .venv/bin/python -m bench.power_cut [--rounds 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.power_cut_harness import run_power_cuts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        result = run_power_cuts(Path(tmp), args.rounds, seed=args.seed)
        elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "rounds": result.rounds,
                "events_reported": result.reported,
                "events_in_ledger": result.in_ledger,
                "failures": result.failures,
                "seconds": round(elapsed, 1),
            },
            indent=2,
        )
    )
    raise SystemExit(1 if result.failures else 0)


if __name__ == "__main__":
    main()
