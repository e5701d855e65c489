"""Fixtures for the sync tests: a hub on SQLite or on the local PostgreSQL, served by waitress
in a thread behind a fault injector, and kiosk ledgers with records to send."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kiosk.background_server import BackgroundServer
from kiosk.ledger import Ledger
from sync.client import SyncClient
from sync.hub.app import create_hub
from sync.hub.jobs import wait_all_idle
from sync.hub.store import HubStore

PG_DSN = os.environ.get("MENWEI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_available() -> str | None:
    try:
        import psycopg

        with psycopg.connect(PG_DSN, connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc)


@contextmanager
def hub_database(kind: str, tmp_path: Path, *, upto: str | None = None) -> Iterator[HubStore]:
    """A migrated hub on SQLite, or in a schema of its own on the local PostgreSQL (dropped
    afterwards); ``upto``: a hub as it stood after that migration."""
    if kind == "sqlite":
        store = HubStore(f"sqlite:///{tmp_path}/{'hub' if upto is None else 'old-hub'}.sqlite3")
        store.migrate(upto=upto)
        try:
            yield store
        finally:
            wait_all_idle()  # a page's background job (sync/hub/jobs.py) ends first
            store.close()
        return
    problem = postgres_available()
    if problem is not None:
        if os.environ.get("MENWEI_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required here but not reachable at {PG_DSN}: {problem}")
        pytest.skip(f"no PostgreSQL at {PG_DSN}: {problem}")
    import psycopg

    schema = f"hubtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in PG_DSN else "?"
    store = HubStore(f"{PG_DSN}{separator}options=-csearch_path%3D{schema}")
    try:
        store.migrate(upto=upto)
        yield store
    finally:
        wait_all_idle()  # never close a connection under a running job's thread
        store.close()
        with psycopg.connect(PG_DSN, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_store(request, tmp_path) -> Iterator[HubStore]:
    with hub_database(request.param, tmp_path) as store:
        yield store


@dataclass
class Faults:
    """Injected by the WSGI middleware in front of the hub, in order, one per request."""

    plan: list[str] = field(default_factory=list)
    max_records: int | None = None  # answer 413 above this many records
    seen: list[str] = field(default_factory=list)
    lose_answer_delay_s: float = 1.5

    def next(self) -> str | None:
        return self.plan.pop(0) if self.plan else None


class FaultInjector:
    def __init__(self, app: Callable, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        fault = self.faults.next()
        self.faults.seen.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {fault}")
        if fault == "503":
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down for maintenance"]
        if fault == "429":
            start_response(
                "429 Too Many Requests",
                [("Content-Type", "application/json"), ("Retry-After", "7")],
            )
            return [b'{"error": "Too Many Requests", "message": "busy"}']
        if self.faults.max_records is not None and environ["PATH_INFO"].endswith("/events"):
            import json

            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = __import__("io").BytesIO(body)
            if len(json.loads(body)["records"]) > self.faults.max_records:
                start_response("413 Request Entity Too Large", [("Content-Type", "text/plain")])
                return [b"too large"]
        if fault == "drop_last_result":  # the hub stored the batch; its answer omits one record
            import json

            answered: list[Any] = []  # status and headers, sent once the body is changed
            body = b"".join(self.app(environ, lambda *given: answered.extend(given)))
            answer = json.loads(body)
            answer["results"] = answer["results"][:-1]
            body = json.dumps(answer).encode()
            headers = [(k, v) for k, v in answered[1] if k.lower() != "content-length"]
            start_response(answered[0], [*headers, ("Content-Length", str(len(body)))])
            return [body]
        result = self.app(environ, start_response)
        if fault == "lose_answer":
            body = b"".join(result)  # the hub has committed; the answer never arrives in time
            time.sleep(self.faults.lose_answer_delay_s)
            return [body]
        return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningHub:
    store: HubStore
    port: int
    faults: Faults
    server: BackgroundServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningHub:
        app = FaultInjector(create_hub(self.store), self.faults)
        self.server = BackgroundServer(app, host="127.0.0.1", port=self.port, threads=4).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def hub(hub_store) -> Iterator[RunningHub]:
    running = RunningHub(hub_store, free_port(), Faults())
    yield running
    running.stop()


def make_ledger(path: Path, kiosk_id: str = "gate-1", records: int = 0) -> Ledger:
    ledger = Ledger(path, kiosk_id)
    add_records(ledger, records)
    return ledger


def add_records(ledger: Ledger, count: int, verdict: str = "admitted") -> list[str]:
    ids = []
    for index in range(count):
        record = ledger.append(
            "screening",
            verdict=verdict,
            estimate_c=36.5 + index % 5 / 10,
            threshold_c=37.3,
            detail={"n": index},
        )
        ids.append(record["id"])
    return ids


def enrolled_client(hub: RunningHub, ledger: Ledger, **options: Any) -> SyncClient:
    code = hub.store.create_enrol_code(ledger.kiosk_id)
    enrolled = hub.store.enrol(code)
    assert enrolled is not None
    options.setdefault("timeout", (1.0, 1.0))
    options.setdefault("backoff_cap_s", 300.0)
    return SyncClient(ledger, hub.url, enrolled[1], **options)


def drain(client: SyncClient, *, max_cycles: int = 200) -> None:
    for _ in range(max_cycles):
        delay = client.cycle()
        if client.state.last_error is None and client.state.queue == 0 and delay > 0:
            return
    raise AssertionError(f"not drained: {client.state}")


def ledger_ids(ledger: Ledger) -> set[str]:
    return {row[0] for row in ledger.connection().execute("SELECT id FROM events")}
