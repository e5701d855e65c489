"""Hub processes for the benchmarks: N real ``hub serve`` processes on one database, and a
minimal HTTP client that posts pre-made batch bodies (so that the client side costs little
of a 2-core machine's CPU next to the hubs and the database)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sync.contract import RECORD_FIELDS

HUB = str(Path(sys.executable).with_name("hub"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def hub_processes(db_url: str, keys_dir: Path, count: int) -> Iterator[list[int]]:
    """``count`` hub processes serving ``db_url``; yields their ports."""
    ports = [free_port() for _ in range(count)]
    procs = [
        subprocess.Popen(
            [HUB, "--quiet", "serve", "--db", db_url, "--keys", str(keys_dir), "--port", str(p)],
            stdout=subprocess.DEVNULL,
        )
        for p in ports
    ]
    try:
        for port in ports:
            wait_listening(port)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


def wire_records(ledger_path: Path) -> list[dict[str, Any]]:
    """A kiosk ledger's records as the kiosk sends them, in order."""
    import sqlite3

    conn = sqlite3.connect(ledger_path)
    conn.row_factory = sqlite3.Row
    columns = ", ".join((*RECORD_FIELDS, "hash", "mac"))
    rows = [dict(r) for r in conn.execute(f"SELECT {columns} FROM events ORDER BY seq")]
    conn.close()
    return rows


class KioskLink:
    """One kiosk's keep-alive HTTP connection to a hub process."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def push(self, body: bytes) -> tuple[int, list[dict[str, Any]], float]:
        """POST one batch: (status, results, Retry-After seconds)."""
        try:
            self.conn.request("POST", "/api/v1/events", body, self.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return 0, [], 0.2
        if response.status != 200:
            return response.status, [], float(response.getheader("Retry-After") or 0.2)
        return 200, json.loads(data)["results"], 0.0

    def push_until_taken(self, body: bytes) -> list[dict[str, Any]]:
        """Send again after a 429 (the hub is busy) as a kiosk does."""
        while True:
            status, results, retry_after = self.push(body)
            if status == 200:
                return results
            if status not in (0, 429, 503):
                raise RuntimeError(f"hub answered {status}")
            time.sleep(min(retry_after, 0.2))

    def close(self) -> None:
        self.conn.close()


def batch_body(records: list[dict[str, Any]], queue: int | None = None) -> bytes:
    return json.dumps({"records": records, "queue": queue}).encode()


class Busy:
    fraction = 0.0


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@contextmanager
def cpu_busy() -> Iterator[Busy]:
    """How busy all of the machine's cores were during the block (0..1), from /proc/stat:
    the hubs, the database, the benchmark's own client and anything else running."""
    busy = Busy()
    start_busy, start_total = _cpu_times()
    yield busy
    end_busy, end_total = _cpu_times()
    busy.fraction = (end_busy - start_busy) / max(1, end_total - start_total)
