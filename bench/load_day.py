"""A day at 1,000 gates, compressed: simulated kiosks push to a hub on PostgreSQL with 1 and with
2 ``hub serve`` processes, in the same run.

Each kiosk gets a day of people (a few hundred on average, some gates five times busier), most
of them in a morning peak (around 08:00) and an evening peak (around 18:30), few at night; each
person is one screening record, chained and hashed as a kiosk does. Some kiosks lose their
network for hours (a backlog builds and is drained in batches when they return), and a few have
wrong clocks (a Pi without a real-time clock that booted in 1970 and never synchronised; one
running minutes ahead). The day is replayed ``--day-seconds`` real seconds long; every kiosk
wakes every ``--interval`` real seconds (jittered) and sends what it holds in batches of up to
200, sending again after a 429 as the real client does.

Reported per run: batch latency (p50, p99, max; only answered batches), records/s at the peak
(the best 5-second window), 429 answers, and records made against records the hub holds (nothing
lost means equal, with none quarantined).

Run: .venv/bin/python -m bench.load_day [--kiosks 1000] [--day-seconds 180] [--interval 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.hub_fleet import cpu_busy, hub_processes
from bench.sync_bench import drop, open_store, token_for
from sync.contract import GENESIS_HASH, record_hash

DAY_S = 24 * 3600
BATCH = 200
WINDOW_S = 5.0


@dataclass
class Kiosk:
    kiosk_id: str
    records: list[tuple[float, dict[str, Any]]]  # (simulated second of the day, record)
    outage: tuple[float, float] | None  # simulated seconds without network
    clock: str  # "synced", "1970" (never synchronised) or "ahead"
    token: str = ""
    sent: int = 0


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    answered: list[tuple[float, int]] = field(default_factory=list)  # (real time, stored)
    busy_answers: int = 0
    not_stored: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def arrival_seconds(rng: random.Random, people: int) -> list[float]:
    """A residential gate's day: a morning and an evening peak, a thin day, a quiet night."""
    times = []
    for _ in range(people):
        pick = rng.random()
        if pick < 0.35:
            hour = rng.gauss(8.0, 0.7)
        elif pick < 0.75:
            hour = rng.gauss(18.5, 1.0)
        elif pick < 0.97:
            hour = rng.uniform(6.0, 23.0)
        else:
            hour = rng.uniform(0.0, 24.0)
        times.append(min(max(hour, 0.0), 23.999) * 3600)
    return sorted(times)


def make_kiosk(index: int, rng: random.Random, day_start: datetime) -> Kiosk:
    kiosk_id = f"gate-{index:05d}"
    people = max(20, int(rng.lognormvariate(5.5, 0.6)))  # median ~245, a long busy tail
    clock = "synced"
    if index % 100 == 7:
        clock = "1970"  # booted without RTC, never synchronised: clock_synced = 0
    elif index % 100 == 42:
        clock = "ahead"  # synchronised but running 7 minutes fast
    boot_id = str(uuid.UUID(int=rng.getrandbits(128)))
    epoch = uuid.uuid4().hex[:16]
    prev = GENESIS_HASH
    records = []
    for seq, second in enumerate(arrival_seconds(rng, people), start=1):
        if clock == "1970":
            wall = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=60 + second)
        else:
            wall = day_start + timedelta(seconds=second + (420 if clock == "ahead" else 0))
        fever = rng.random() < 0.004
        record: dict[str, Any] = {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "kiosk_id": kiosk_id,
            "epoch": epoch,
            "seq": seq,
            "kind": "screening",
            "wall_time": wall.isoformat(timespec="microseconds"),
            "clock_synced": 0 if clock == "1970" else 1,
            "boot_id": boot_id,
            "boottime_ns": int((60 + second) * 1e9),
            "verdict": "blocked" if fever else "admitted",
            "reason": None,
            "estimate_c": round(rng.gauss(38.3 if fever else 36.5, 0.2), 2),
            "threshold_c": 37.3,
            "object_c": round(rng.uniform(33.0, 35.0), 2),
            "ambient_c": round(rng.uniform(15.0, 28.0), 2),
            "pass_code": None,
            "links_to": None,
            "detail": "{}",
            "prev_hash": prev,
        }
        record["hash"] = prev = record_hash(record)
        record["mac"] = None
        records.append((second, record))
    outage = None
    if rng.random() < 0.05:  # 5 % of gates lose their network for 2 to 8 hours
        start = rng.uniform(0, DAY_S - 2 * 3600)
        outage = (start, start + rng.uniform(2, 8) * 3600)
    return Kiosk(kiosk_id, records, outage, clock)


def post(port: int, token: str, body: bytes) -> tuple[int, list[dict[str, Any]]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(
            "POST",
            "/api/v1/events",
            body,
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 200:
        return response.status, []
    return 200, json.loads(data)["results"]


def run_kiosk(kiosk: Kiosk, port: int, args: Any, started: float, tally: Tally) -> None:
    """Wake every interval, send what is due unless the network is out, until all is sent."""
    rng = random.Random(kiosk.kiosk_id)
    scale = DAY_S / args.day_seconds
    wake = started + rng.uniform(0, args.interval)
    while kiosk.sent < len(kiosk.records):
        time.sleep(max(0.0, wake - time.monotonic()))
        wake += args.interval * rng.uniform(0.8, 1.2)
        now_sim = (time.monotonic() - started) * scale
        if kiosk.outage and kiosk.outage[0] <= now_sim < kiosk.outage[1]:
            continue
        while kiosk.sent < len(kiosk.records) and kiosk.records[kiosk.sent][0] <= now_sim:
            due = [r for s, r in kiosk.records[kiosk.sent : kiosk.sent + BATCH] if s <= now_sim]
            body = json.dumps({"records": due, "queue": len(kiosk.records) - kiosk.sent}).encode()
            asked = time.monotonic()
            try:
                status, results = post(port, kiosk.token, body)
            except (OSError, http.client.HTTPException):
                status, results = 0, []
            answered = time.monotonic()
            if status != 200:
                with tally.lock:
                    tally.busy_answers += 1
                time.sleep(min(2.0, args.interval))  # Retry-After, shortened like the day
                continue
            stored = sum(1 for r in results if r["status"] in ("stored", "duplicate"))
            with tally.lock:
                tally.latencies.append(answered - asked)
                tally.answered.append((answered - started, stored))
                tally.not_stored += len(results) - stored
            kiosk.sent += len(due)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def peak_rate(answered: list[tuple[float, int]]) -> float:
    if not answered:
        return 0.0
    buckets: dict[int, int] = {}
    for at, stored in answered:
        buckets[int(at // WINDOW_S)] = buckets.get(int(at // WINDOW_S), 0) + stored
    return max(buckets.values()) / WINDOW_S


def one_day(kiosks: list[Kiosk], processes: int, args: Any, workdir: Path) -> dict[str, Any]:
    store, schema = open_store("postgresql", workdir)
    try:
        for kiosk in kiosks:
            kiosk.token, kiosk.sent = token_for(store, kiosk.kiosk_id), 0
        tally = Tally()
        with hub_processes(store.url, workdir / "keys", processes) as ports:
            started = time.monotonic()
            threads = [
                threading.Thread(
                    target=run_kiosk,
                    args=(k, ports[i % processes], args, started, tally),
                    daemon=True,
                )
                for i, k in enumerate(kiosks)
            ]
            with cpu_busy() as busy:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            elapsed = time.monotonic() - started
        made = sum(len(k.records) for k in kiosks)
        held = int(store.fetch_one("SELECT count(*) FROM events")[0])
        quarantined = int(store.fetch_one("SELECT count(*) FROM quarantine")[0])
    finally:
        store.close()
        drop(schema)
    return {
        "hub_processes": processes,
        "records_made": made,
        "records_held": held,
        "quarantined": quarantined,
        "lost": made - held,
        "batches": len(tally.latencies),
        "busy_429": tally.busy_answers,
        "latency_p50_ms": round(1000 * percentile(tally.latencies, 0.5), 1),
        "latency_p99_ms": round(1000 * percentile(tally.latencies, 0.99), 1),
        "latency_max_ms": round(1000 * max(tally.latencies), 1),
        "peak_records_per_s": round(peak_rate(tally.answered)),
        "mean_records_per_s": round(made / elapsed),
        "seconds": round(elapsed, 1),
        "cpu_busy": round(busy.fraction, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=1000)
    parser.add_argument("--day-seconds", type=float, default=180.0)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    day_start = (datetime.now(UTC) - timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    ) - timedelta(hours=8)  # midnight in Asia/Shanghai, yesterday
    kiosks = [make_kiosk(i, rng, day_start) for i in range(args.kiosks)]
    results: dict[str, Any] = {
        "kiosks": args.kiosks,
        "day_seconds": args.day_seconds,
        "interval_s": args.interval,
        "outages": sum(1 for k in kiosks if k.outage),
        "clock_off": sum(1 for k in kiosks if k.clock != "synced"),
        "runs": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for processes in (int(p) for p in args.processes.split(",")):
            results["runs"].append(one_day(kiosks, processes, args, Path(tmp)))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
