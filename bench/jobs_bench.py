"""The hub without waiting: how soon a manager sees progress, and how long the work takes, for
issuing 10,000 passes (SQLite and PostgreSQL), the PDF of one building's 500 cards, and the
XLSX of a 90,000-row ledger, each driven through the pages (Flask's test client, as a browser
would: the click, then the job's JSON polled every 20 ms). Baselines in the same run: issuing
as the hub did before (one transaction per pass, the page waiting for the end), and the XLSX
streamed by ``GET /admin/ledger.xlsx`` (whose first byte comes once the workbook is built).

Run: .venv/bin/python -m bench.jobs_bench [--residents 10000] [--events 90000] [--pg DSN]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from bench.export_bench import fill as fill_events
from sync.hub import compounds, residents
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from sync.hub.store import HubStore, now_iso

PASSWORD = "correct horse battery"
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def database(kind: str, tmp: str, dsn: str) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/hub-{uuid.uuid4().hex[:6]}.sqlite3"
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{dsn}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


def hub(url: str, residents_count: int) -> tuple[HubStore, Any, Any, str]:
    store = HubStore(url)
    store.migrate()
    compounds.update(store, "默认小区", "光明苑小区", "和平街道")
    create_admin(store, "manager", PASSWORD, "admin")
    rows = "building,unit,room,name,role\n" + "".join(
        f"{1 + i // 500},{1 + i // 100 % 5},{101 + i % 100},住户{i},owner\n"
        for i in range(residents_count)
    )
    residents.import_residents(store, "a.csv", rows.encode(), "bench")
    app = create_hub(store)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/admin/login", data={"username": "manager", "password": PASSWORD, "csrf": token})
    page = client.get("/admin/residents").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return store, app, client, csrf


def follow(client: Any, started: Any, clicked: float) -> dict[str, float]:
    """From the click: the job's page answered, its first progress, its end."""
    page_s = time.perf_counter() - clicked
    url = started.headers["Location"] + ".json"
    first = None
    while True:
        state = client.get(url).get_json()
        now = time.perf_counter() - clicked
        if first is None and state["done"] > 0:
            first = now
        if state["finished"]:
            assert state["state"] == "done", state
            return {
                "page_s": round(page_s, 3),
                "first_progress_s": round(first if first is not None else now, 3),
                "total_s": round(now, 3),
            }
        time.sleep(0.02)


def old_issue(store: HubStore) -> int:
    """Issuing as the hub did before this change: a transaction per pass and another for its
    roster change (the page waited for all of it)."""
    expires_on = (date.today() + timedelta(days=180)).isoformat()
    issued = 0
    for person in residents.residents(store):
        if person["code"]:
            continue
        code = residents._new_codes(store, 1)[0]
        with store.transaction():
            store.execute(
                "INSERT INTO passes (code, resident_id, expires_on, issued_at) VALUES (?, ?, ?, ?)",
                (code, person["resident_id"], expires_on, now_iso()),
            )
        residents._roster_pass(store, person, code, expires_on, revoked=False)
        issued += 1
    return issued


def forget_passes(store: HubStore) -> None:
    with store.transaction():
        store.execute("DELETE FROM roster WHERE kind = 'pass'")
        store.execute("DELETE FROM passes")


def bench_issue(kind: str, tmp: str, dsn: str, count: int) -> dict[str, Any]:
    with database(kind, tmp, dsn) as url:
        store, app, client, csrf = hub(url, count)
        try:
            started = time.perf_counter()
            assert old_issue(store) == count
            baseline = time.perf_counter() - started
            forget_passes(store)
            clicked = time.perf_counter()
            response = client.post("/admin/passes/issue", data={"csrf": csrf, "days": "180"})
            job = follow(client, response, clicked)
            issued = store.fetch_one("SELECT count(*) FROM passes")[0]
            assert issued == count, issued
            result: dict[str, Any] = {
                "passes": count,
                "before_page_blocked_s": round(baseline, 2),
                **job,
                "first_progress_ratio_to_before": round(job["first_progress_s"] / baseline, 3),
                "total_ratio_to_before": round(job["total_s"] / baseline, 3),
            }
            if kind == "sqlite":
                result["pdf_500"] = bench_pdf(client, csrf)
            return result
        finally:
            app.extensions["hub_jobs"].wait_idle(600)
            app.extensions["hub_jobs"].close()
            store.close()


def bench_pdf(client: Any, csrf: str) -> dict[str, Any]:
    clicked = time.perf_counter()
    response = client.post("/admin/passes/sheet.pdf", data={"csrf": csrf, "building": "1"})
    job = follow(client, response, clicked)
    state = client.get(response.headers["Location"] + ".json").get_json()
    data = client.get(state["download"])
    size = len(data.get_data())
    data.close()
    return {"cards": state["done"], **job, "megabytes": round(size / 2**20, 2)}


def bench_xlsx(tmp: str, events: int) -> dict[str, Any]:
    url = f"sqlite:///{tmp}/ledger.sqlite3"
    fill_events(url, events)
    store = HubStore(url)
    store.migrate()
    store.enrol(store.create_enrol_code("gate-1"))  # the events' gate, in the only compound
    create_admin(store, "manager", PASSWORD, "admin")
    app = create_hub(store)
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    client.post("/admin/login", data={"username": "manager", "password": PASSWORD, "csrf": token})
    page = client.get("/admin/ledger").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    try:
        started = time.perf_counter()
        response = client.get("/admin/ledger.xlsx", buffered=False)
        stream = iter(response.response)
        first_byte = None
        size = 0
        for block in stream:
            if first_byte is None and block:
                first_byte = time.perf_counter() - started
            size += len(block)
        streamed = time.perf_counter() - started
        response.close()
        clicked = time.perf_counter()
        started_job = client.post("/admin/ledger/export.xlsx", data={"csrf": csrf})
        job = follow(client, started_job, clicked)
        return {
            "events": events,
            "before_first_byte_s": round(first_byte or streamed, 2),
            "before_total_s": round(streamed, 2),
            "megabytes": round(size / 2**20, 1),
            **job,
            "page_ratio_to_before_first_byte": round(job["page_s"] / (first_byte or streamed), 4),
            "total_ratio_to_before": round(job["total_s"] / streamed, 3),
        }
    finally:
        app.extensions["hub_jobs"].wait_idle(600)
        app.extensions["hub_jobs"].close()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=90_000)
    parser.add_argument("--pg", default=PG_DEFAULT, help="PostgreSQL DSN ('' to skip)")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        report["issue_sqlite"] = bench_issue("sqlite", tmp, args.pg, args.residents)
        if args.pg:
            report["issue_postgresql"] = bench_issue("postgresql", tmp, args.pg, args.residents)
        report["xlsx_sqlite"] = bench_xlsx(tmp, args.events)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
