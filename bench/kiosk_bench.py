"""Kiosk benchmarks, each reported as a ratio against a baseline measured in the same run.

  (a) verdict latency: from the last sensor sample to the verdict reaching a page's long poll,
      against the sampling window itself (first sample to last sample);
  (b) durable ledger appends per second (an enrolled kiosk: keyed chain), against bare sqlite3
      INSERTs with the same WAL and synchronous=FULL settings, one transaction each, the two
      alternating in short rounds; the ratio is the median of the rounds' ratios;
  (c) the kiosk's resident memory after 1,000 screenings, against its memory after the first.

Run: .venv/bin/python -m bench.kiosk_bench [--screenings 1000] [--people 30] [--appends 4000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from gpiozero.pins.mock import MockFactory

from kiosk.config import load_config
from kiosk.gate import Gate
from kiosk.guard_desk import GuardDesk
from kiosk.ledger import Ledger, connect, save_chain_key
from kiosk.overrides import Override
from kiosk.server import start_in_background

VERDICTS = {"admitted", "blocked", "retry", "fault"}
GUARD = {"guard_id": "bench", "name": "测试门卫"}


def guard_clears_a_fever_block(gate: Gate, desk: GuardDesk) -> None:
    """A fever block is the guard's to clear, as at a real gate (the kiosk measures nobody
    again until then): the guard denies entry."""
    block = gate.awaiting_guard
    if block is not None:
        desk.override(Override(block["id"], "deny", "fever_confirmed", None, None), GUARD)


def verdict_latency(data_dir: Path, people: int) -> dict[str, float]:
    """Default screening timing, a real waitress server and an HTTP long-polling client."""
    config = load_config(
        None, {"kiosk.data_dir": str(data_dir), "sensor.simulate": True, "kiosk.identify": "off"}
    )
    kiosk = start_in_background(config, pin_factory=MockFactory())
    desk = GuardDesk(kiosk.gate)
    sim = kiosk.hardware.simulator
    assert sim is not None
    received: list[tuple[float, dict]] = []
    stop = threading.Event()

    def follow() -> None:
        version = 0
        with requests.Session() as http:
            while not stop.is_set():
                state = http.get(f"{kiosk.url}/api/state?after={version}", timeout=30).json()
                received.append((time.monotonic(), state))
                version = state["version"]

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    latencies, windows = [], []
    try:
        for index in range(people):
            seen = len(received)
            measuring_from = time.monotonic()
            sim.scene.person(36.6 if index % 3 else 38.2)
            deadline = time.monotonic() + 10
            verdict = None
            while verdict is None and time.monotonic() < deadline:
                for at, state in received[seen:]:
                    if state["screen"] in VERDICTS:
                        verdict = (at, state)
                time.sleep(0.005)
            assert verdict is not None, "no verdict within 10 s"
            at, state = verdict
            reads = [
                c.at
                for c in sim.calls
                if c.result == "read" and measuring_from <= c.at <= state["published_at"]
            ]
            samples = reads[-2 * config.screening.samples :]  # object + ambient per sample
            latencies.append(at - samples[-1])
            windows.append(samples[-1] - samples[0])
            sim.scene.leave()
            guard_clears_a_fever_block(kiosk.gate, desk)
            time.sleep(0.4)
            kiosk.gate.measure_again()
    finally:
        stop.set()
        kiosk.stop()
    latency, window = statistics.median(latencies), statistics.median(windows)
    return {
        "people": people,
        "median_latency_ms": latency * 1000,
        "median_sampling_window_ms": window * 1000,
        "ratio": latency / window,
    }


def ledger_throughput(data_dir: Path, appends: int, rounds: int = 80) -> dict[str, float]:
    """An enrolled kiosk's appends (hash chain and keyed mac) against bare INSERTs of a row of
    about the same size, same pragmas, one transaction each. The two alternate in ``rounds``
    short rounds (which goes first alternates too), so that both see the same moments of a
    shared machine; the ratio is the median of each pair of rounds' ratios (the medians of the
    rates are given too)."""
    save_chain_key(data_dir, bytes(range(32)))
    ledger = Ledger(data_dir / "bench-ledger.sqlite3", "bench")
    detail = {"samples": [[34.0, 24.0]] * 5, "raw": [[15000, 14900]] * 5}
    bare = connect(data_dir / "bare.sqlite3")
    bare.execute("CREATE TABLE events (id TEXT PRIMARY KEY, seq INTEGER, body TEXT)")
    body = json.dumps(detail) + "x" * 200  # about the size of a ledger row
    per_round = max(1, appends // rounds)
    seq = 0

    def ledger_round() -> float:
        started = time.perf_counter()
        for _ in range(per_round):
            ledger.append(
                "screening",
                verdict="admitted",
                estimate_c=36.6,
                threshold_c=37.3,
                object_c=34.0,
                ambient_c=24.0,
                detail=detail,
            )
        return per_round / (time.perf_counter() - started)

    def bare_round() -> float:
        nonlocal seq
        started = time.perf_counter()
        for _ in range(per_round):
            seq += 1
            bare.execute("BEGIN IMMEDIATE")
            bare.execute("INSERT INTO events VALUES (?, ?, ?)", (str(uuid.uuid4()), seq, body))
            bare.execute("COMMIT")
        return per_round / (time.perf_counter() - started)

    ledger_rates, bare_rates = [], []
    for index in range(rounds):
        if index % 2:
            ledger_rates.append(ledger_round())
            bare_rates.append(bare_round())
        else:
            bare_rates.append(bare_round())
            ledger_rates.append(ledger_round())
    assert bare.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert ledger.events(limit=1)[0]["mac"] is not None  # enrolled: the keyed chain is paid for
    ledger_rate, bare_rate = statistics.median(ledger_rates), statistics.median(bare_rates)
    ratios = [mine / theirs for mine, theirs in zip(ledger_rates, bare_rates, strict=True)]
    return {
        "appends": per_round * rounds,
        "rounds": rounds,
        "ledger_per_s": ledger_rate,
        "bare_sqlite_per_s": bare_rate,
        "ratio": statistics.median(ratios),
        "ratio_of_median_rates": ledger_rate / bare_rate,
    }


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def memory_after_screenings(data_dir: Path, screenings: int) -> dict[str, float]:
    """Screenings back to back, every 10th a fever that the guard clears (as at a real gate),
    with the web server running; resident memory after the first and after the last."""
    config = load_config(
        None,
        {
            "kiosk.data_dir": str(data_dir / "memory"),
            "sensor.simulate": True,
            "screening.settle_s": 0.0,
            "screening.sample_interval_s": 0.0,
            "screening.poll_interval_s": 0.02,
        },
    )
    recorded_one = threading.Semaphore(0)

    def recorded(record: dict) -> None:
        if record["kind"] == "screening":
            recorded_one.release()

    kiosk = start_in_background(config, pin_factory=MockFactory(), listeners=[recorded])
    desk = GuardDesk(kiosk.gate)
    scene = kiosk.hardware.simulator.scene
    scene.tau_s = 0.001
    baseline = 0
    try:
        for count in range(1, screenings + 1):
            scene.person(38.2 if count % 10 == 0 else 36.6)
            if count > 1:
                kiosk.gate.measure_again()
            assert recorded_one.acquire(timeout=30), f"no screening {count} within 30 s"
            if count == 1:
                baseline = rss_kib()
            guard_clears_a_fever_block(kiosk.gate, desk)
        after = rss_kib()
    finally:
        kiosk.stop()
    return {
        "screenings": screenings,
        "rss_after_first_kib": baseline,
        "rss_after_all_kib": after,
        "ratio": after / baseline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=30)
    parser.add_argument("--appends", type=int, default=4000)
    parser.add_argument("--screenings", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "verdict_latency": verdict_latency(Path(tmp) / "latency", args.people),
            "ledger_throughput": ledger_throughput(Path(tmp), args.appends),
            "memory": memory_after_screenings(Path(tmp), args.screenings),
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
