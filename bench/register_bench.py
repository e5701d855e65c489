"""Register XLSX benchmark: a month of a busy gate (100,000 events) as the 体温检测登记 XLSX
(built from the hub's events: local times, homes from the passes, words for codes, text kept as
text, title row, widths, frozen header) against a bare openpyxl write-only workbook of the same
rows, each in a fresh process with its peak memory (best of three, alternated); then a quarter of
the month at the same rate, to show that memory does not grow with the month.

Run: .venv/bin/python -m bench.register_bench [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.export_bench import insert_events
from sync.hub import registers, sheets
from sync.hub.store import HubStore, now_iso
from sync.localtime import DEFAULT_ZONE, zone

FIRST, LAST = date(2026, 11, 1), date(2026, 11, 30)
GATE = "east-gate"
RESIDENTS = 2000
REPEATS = 3


def fill(url: str, events: int, days: float = 30) -> None:
    """A busy gate's month: residents with passes, screenings (2 % fevers), visitors, vehicles,
    straight into the hub's tables (ingest is measured elsewhere)."""
    store = HubStore(url)
    store.migrate()
    rng = random.Random(7)
    codes = []
    compound = store.write_compound()  # the hub's one compound
    with store.transaction():
        for index in range(RESIDENTS):
            resident_id = str(uuid.uuid4())
            code = f"{1_000_000_000 + index}"
            codes.append(code)
            store.execute(
                "INSERT INTO residents (resident_id, building, unit, room, name, phone, role,"
                " created_at, compound_id) VALUES (?, ?, ?, ?, ?, NULL, 'owner', ?, ?)",
                (
                    resident_id,
                    str(1 + index // 100),
                    str(1 + index % 4),
                    str(101 + index % 25),
                    f"住户{index}",
                    now_iso(),
                    compound,
                ),
            )
            store.execute(
                "INSERT INTO passes (code, resident_id, expires_on, revoked, issued_at)"
                " VALUES (?, ?, '2027-06-01', 0, ?)",
                (code, resident_id, now_iso()),
            )
    start = datetime(2026, 10, 31, 16, tzinfo=UTC)  # 2026-11-01 00:00 in Beijing
    step = (timedelta(days=days) / events).total_seconds()
    batch = []
    for seq in range(1, events + 1):
        moment = (start + timedelta(seconds=seq * step)).isoformat(timespec="microseconds")
        roll = rng.random()
        kind, verdict, detail, code, estimate = "screening", "admitted", {}, rng.choice(codes), 36.5
        if roll < 0.02:
            verdict, estimate = "blocked", 38.1
        elif roll < 0.05:
            kind, verdict, code, estimate = "visitor", "registered", None, None
            detail = {
                "phone": "13912345678",
                "building": "3",
                "unit": "1",
                "purpose": "delivery",
                "risk_area": "none",
                "code_colour": "green",
                "name": "王师傅",
                "guard_id": "wang",
            }
        elif roll < 0.08:
            kind, verdict, code, estimate = "vehicle", "in", None, None
            detail = {"plate": "京A12345", "guard_id": "wang"}
        record = {
            "id": str(uuid.uuid4()),
            "kiosk_id": GATE,
            "epoch": "e1",
            "seq": seq,
            "kind": kind,
            "wall_time": moment,
            "clock_synced": 1,
            "boot_id": "b",
            "boottime_ns": seq,
            "verdict": verdict,
            "reason": "fever" if verdict == "blocked" else None,
            "estimate_c": estimate,
            "threshold_c": 37.3,
            "object_c": None,
            "ambient_c": None,
            "pass_code": code,
            "links_to": None,
            "detail": json.dumps(detail, ensure_ascii=False),
            "prev_hash": "0" * 64,
            "hash": "1" * 64,
        }
        batch.append(
            (
                record["id"],
                GATE,
                "e1",
                seq,
                kind,
                moment,
                verdict,
                estimate,
                json.dumps(record, sort_keys=True),
                record["hash"],
                record["prev_hash"],
                "2026-11-30",
            )
        )
        if len(batch) == 10_000 or seq == events:
            with store.transaction():
                insert_events(store, batch)
            batch.clear()
    store.close()


def month_rows(store: HubStore):
    return registers.range_rows(store, GATE, FIRST, LAST, "screening", zone(DEFAULT_ZONE))


def run_one(url: str, mode: str, out: str, rows_file: str) -> None:
    """In a fresh process: one workbook, then its time and peak RSS as JSON on stdout."""
    if mode == "bare":
        with open(rows_file, "rb") as fh:
            rows = pickle.load(fh)  # the same rows, prepared before the clock starts
        started = time.perf_counter()
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("登记")
        for row in rows:
            sheet.append(row)
        count = len(rows)
        workbook.save(out)
    else:
        store = HubStore(url)
        started = time.perf_counter()
        columns = registers.COLUMNS["screening"]
        count = 0

        def counted():
            nonlocal count
            for row in month_rows(store):
                count += 1
                yield row

        with open(out, "wb") as fh:
            for chunk in sheets.xlsx_stream(
                "体温检测登记",
                f"{GATE} 体温检测登记 {FIRST} 至 {LAST}",
                [c.title for c in columns],
                [c.width for c in columns],
                counted(),
            ):
                fh.write(chunk)
        store.close()
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rows": count,
                "seconds": elapsed,
                "peak_rss_kib": peak_rss_kib(),
                "bytes": Path(out).stat().st_size,
            }
        )
    )


def peak_rss_kib() -> int:
    """This process's own peak (VmHWM): ru_maxrss would carry the parent's peak across exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(events: int, days: float, tmp: str) -> dict:
    url = f"sqlite:///{tmp}/hub-{events}.sqlite3"
    fill(url, events, days)
    store = HubStore(url)
    rows_file = f"{tmp}/rows-{events}.pickle"
    with open(rows_file, "wb") as fh:
        pickle.dump(list(month_rows(store)), fh)
    store.close()
    results: dict[str, dict] = {}
    for _ in range(REPEATS):  # alternated, best of each: the machine may be shared
        for mode in ("bare", "register"):
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.register_bench",
                    "--one",
                    url,
                    mode,
                    f"{tmp}/{mode}-{events}.xlsx",
                    rows_file,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout)
            if mode not in results or result["seconds"] < results[mode]["seconds"]:
                results[mode] = result
    bare, ours = results["bare"], results["register"]
    return {
        "events": events,
        "days": days,
        "rows": ours["rows"],
        "bare_rows_per_s": round(bare["rows"] / bare["seconds"]),
        "register_rows_per_s": round(ours["rows"] / ours["seconds"]),
        "speed_ratio_to_bare": round(bare["seconds"] / ours["seconds"], 3),
        "bare_peak_mib": round(bare["peak_rss_kib"] / 1024, 1),
        "register_peak_mib": round(ours["peak_rss_kib"] / 1024, 1),
        "register_megabytes": round(ours["bytes"] / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(*args.one)
        return
    with tempfile.TemporaryDirectory() as tmp:
        # A quarter of the month at the same rate: memory must not grow with the month.
        report = [measure(args.events // 4, 7.5, tmp), measure(args.events, 30, tmp)]
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
