"""Power-cut harness: a kiosk gate screening a stream of people is killed with SIGKILL at random
moments; after each kill, every event it had reported as recorded must be in the ledger, the hash
chain must verify and SQLite's integrity check must pass.

A single-threaded spawner process imports the kiosk once and forks one gate per round, so that
each round costs milliseconds rather than an interpreter start. Used by tests/test_power_cut.py
and bench/power_cut.py.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run_gate(data_dir: Path, report: Path) -> None:
    """In the forked child: run the real gate loop until killed."""
    from gpiozero.pins.mock import MockFactory

    from kiosk.config import load_config
    from kiosk.gate import MEASURING_STATES, AwaitingGuard, Gate
    from kiosk.hardware import build_hardware
    from kiosk.lane import State
    from kiosk.ledger import Ledger

    config = load_config(
        None,
        {
            "kiosk.data_dir": str(data_dir),
            "sensor.simulate": True,
            "screening.settle_s": 0.0,
            "screening.samples": 3,
            "screening.sample_interval_s": 0.0,
            "screening.poll_interval_s": 0.02,
        },
    )
    fd = os.open(report, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    ledger = Ledger(config.data_dir / "ledger.sqlite3", config.kiosk.id)
    hardware = build_hardware(config, pin_factory=MockFactory())
    scene = hardware.simulator.scene  # type: ignore[union-attr]
    scene.tau_s = 0.001
    temperatures = [36.6, 38.2, 36.9, 37.1]
    gate: Gate

    people: queue.Queue[dict] = queue.Queue()

    def recorded(record: dict) -> None:
        os.write(fd, f"{record['id']} {record['seq']}\n".encode())
        if record["kind"] == "screening":
            people.put(record)

    def next_person() -> None:
        """The world at the gate, in its own thread: a listener runs inside the gate's record
        step, before the gate has taken in the verdict, so it must not drive the gate itself."""
        while True:
            record = people.get()
            while gate.state in MEASURING_STATES:  # the lane has not taken in the verdict yet
                time.sleep(0.002)
            if record["verdict"] == "blocked":  # a fever block is the guard's to clear
                with contextlib.suppress(RuntimeError):  # the lane moved on meanwhile
                    gate.remeasure_for_guard(record["id"], "power-cut-guard")
                scene.leave()  # whoever stands there steps away, the blocked one steps up
                while gate.state is State.REMEASURE_CLEARING:
                    time.sleep(0.002)
            scene.person(temperatures[record["seq"] % len(temperatures)])
            if record["verdict"] != "blocked":
                with contextlib.suppress(AwaitingGuard):  # a re-measure's retry: it stands
                    gate.measure_again()

    gate = Gate(config, hardware, ledger, listeners=[recorded])
    scene.person(36.6)
    if gate.awaiting_guard is not None:  # the power went with a fever block up: it survives the
        people.put(gate.awaiting_guard)  # restart, and the guard re-measures when it is back
    threading.Thread(target=next_person, daemon=True).start()
    gate.start()
    while True:
        time.sleep(3600)


def spawner_main() -> None:
    """Reads 'DATA_DIR REPORT' lines; for each, forks a gate, prints its pid, reaps it and prints
    'exited <signal or status>'."""
    import kiosk.gate
    import kiosk.hardware  # noqa: F401

    for line in sys.stdin:
        data_dir, report = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                _run_gate(Path(data_dir), Path(report))
            finally:
                os._exit(1)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exited {os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1}", flush=True)


@dataclass
class PowerCutResult:
    rounds: int = 0
    reported: int = 0
    in_ledger: int = 0
    failures: list[str] = field(default_factory=list)


def run_power_cuts(
    data_dir: Path,
    rounds: int,
    *,
    seed: int = 1,
    max_delay_s: float = 0.25,
) -> PowerCutResult:
    """Kill the gate ``rounds`` times at random moments; check the ledger after every kill."""
    from kiosk.ledger import Ledger

    rng = random.Random(seed)
    result = PowerCutResult()
    reported: set[str] = set()
    spawner = subprocess.Popen(
        [sys.executable, "-c", "from bench.power_cut_harness import spawner_main; spawner_main()"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert spawner.stdin is not None and spawner.stdout is not None
    try:
        for round_no in range(rounds):
            report = data_dir / f"reported-{round_no}.txt"
            spawner.stdin.write(f"{data_dir} {report}\n")
            spawner.stdin.flush()
            pid = int(spawner.stdout.readline())
            time.sleep(rng.uniform(0.0, max_delay_s))
            os.kill(pid, signal.SIGKILL)
            exited = spawner.stdout.readline().split()
            if exited != ["exited", str(int(signal.SIGKILL))]:
                result.failures.append(f"round {round_no}: the gate ended with {exited}")
            if report.exists():
                for line in report.read_text().splitlines():
                    event_id, _seq = line.split()
                    reported.add(event_id)
            result.rounds += 1
            if not (data_dir / "ledger.sqlite3").exists():
                continue  # killed before the ledger was created
            ledger = Ledger(data_dir / "ledger.sqlite3", "gate-1")
            try:
                ids = {row[0] for row in ledger.connection().execute("SELECT id FROM events")}
                missing = reported - ids
                if missing:
                    result.failures.append(f"round {round_no}: {len(missing)} recorded events lost")
                chain = ledger.verify_chain()
                if not chain.ok:
                    result.failures.append(
                        f"round {round_no}: chain {chain.problem} at {chain.seq}"
                    )
                if not ledger.integrity_ok():
                    result.failures.append(f"round {round_no}: integrity_check failed")
                result.in_ledger = len(ids)
            finally:
                ledger.close()
    finally:
        spawner.stdin.close()
        spawner.wait(10)
        spawner.stdout.close()
    result.reported = len(reported)
    return result


if __name__ == "__main__":
    spawner_main()
