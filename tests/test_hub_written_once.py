"""The hub's events are written once and every shown value comes from the hashed record.

Field trial (High): ``UPDATE events SET estimate_c=36.6, verdict='admitted'`` on a 38.6 °C block
changed the register page, its CSV, a freshly printed PDF, the dashboard and the 日报, while the
new PDF carried the same seal, the seal check said 相符 and ``hub integrity`` found nothing: the
shown columns were a second copy of the record that nothing checked.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from click.testing import CliRunner

from kiosk import clock
from kiosk.ledger import Ledger
from sync.hub import events_schema, integrity, registers, seal
from sync.hub.admins import audit_log, create_admin
from sync.hub.app import create_hub
from sync.hub.cli import main as hub_cli
from sync.hub.retention import purge
from sync.hub.store import SQLITE, HubStore
from sync.localtime import zone
from tests.hub_helpers import PASSWORD, signed_in
from tests.scan import decode_png, pdf_pages_png
from tests.superuser import drop_guard, forge_record, unguarded
from tests.sync_fixtures import hub_database

CHINA = zone("Asia/Shanghai")
SHOWN = "SELECT estimate_c, verdict FROM events WHERE id = ?"


def _records(tmp_path, count: int = 4) -> list[dict[str, Any]]:
    """A gate's records of today: admitted, a 38.6 °C block, admitted …"""
    ledger = Ledger(tmp_path / f"gate-{count}.sqlite3", "gate-1")
    made = []
    for index in range(count):
        if index == 1:
            made.append(
                ledger.append(
                    "screening",
                    verdict="blocked",
                    reason="fever",
                    estimate_c=38.6,
                    threshold_c=37.3,
                )
            )
        else:
            made.append(ledger.append("screening", verdict="admitted", estimate_c=36.5))
    ledger.close()
    return made


def _gate_with_a_fever(store: HubStore, tmp_path) -> str:
    assert store.enrol(store.create_enrol_code("gate-1")) is not None
    records = _records(tmp_path)
    assert [a["status"] for a in store.ingest("gate-1", records)] == ["stored"] * 4
    return records[1]["id"]


def _refused(store: HubStore, sql: str, params: tuple[Any, ...] = ()) -> str:
    with pytest.raises(Exception) as refused, store.transaction():
        store.execute(sql, params)
    return str(refused.value)


def test_the_field_trials_update_is_refused_by_the_database(hub_store, tmp_path):
    store = hub_store
    fever = _gate_with_a_fever(store, tmp_path)

    said = _refused(
        store, "UPDATE events SET estimate_c = 36.6, verdict = 'admitted' WHERE id = ?", (fever,)
    )
    assert "generated column" in said  # the shown columns are the record's, not a copy
    text = store.fetch_one("SELECT record FROM events WHERE id = ?", (fever,))[0]
    forged = text.replace('"estimate_c":38.6', '"estimate_c":36.6')
    assert "只写一次" in _refused(
        store, "UPDATE events SET record = ? WHERE id = ?", (forged, fever)
    )
    assert "只写一次" in _refused(
        store, "UPDATE events SET received_at = '2020' WHERE id = ?", (fever,)
    )
    assert "保存期限" in _refused(store, "DELETE FROM events WHERE id = ?", (fever,))
    if store.dialect is not SQLITE:
        assert "保存期限" in _refused(store, "TRUNCATE events")
    assert store.fetch_one(SHOWN, (fever,)) == (38.6, "blocked")
    # The hub's one piece of bookkeeping: a later record may show the chain breaks here.
    with store.transaction():
        store.execute("UPDATE events SET chain_ok = 0 WHERE id = ?", (fever,))
    assert "只写一次" in _refused(store, "UPDATE events SET chain_ok = 1 WHERE id = ?", (fever,))
    found, ok = integrity.check(store)
    assert ok, found  # nothing was changed


def _client(store: HubStore):
    create_admin(store, "admin-user", PASSWORD, "admin")
    return signed_in(create_hub(store, compound="幸福里小区"), "admin")[0]


def _csrf(client) -> str:
    page = client.get("/admin/dashboard").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_a_record_forged_behind_the_hubs_back_is_named_and_nothing_vouches_for_it(
    hub_store, tmp_path
):
    """A superuser drops the trigger and rewrites the record's JSON: the pages show what the
    record now says, but integrity names it, the register marks its row and prints no seal,
    and the seal printed before says 不符."""
    store = hub_store
    fever = _gate_with_a_fever(store, tmp_path)
    today = registers.local_today(CHINA)
    printed = seal.seal_for_day(store, "gate-1", today, CHINA)
    assert seal.verify(store, printed, CHINA).ok

    forge_record(store, fever, estimate_c=36.6, verdict="admitted")

    assert store.fetch_one(SHOWN, (fever,)) == (36.6, "admitted")  # one copy: the record's
    found, ok = integrity.check(store)
    assert not ok and any("中心被改" in line and "#2" in line for line in found), found
    assert any("记录内容与哈希不符" in line for line in found), found
    cli = CliRunner().invoke(hub_cli, ["integrity", "--db", store.url])
    assert cli.exit_code == 1 and fever in cli.output, cli.output

    built = registers.build_day(store, "gate-1", today, CHINA)
    assert built.unsound_seqs == [2]
    [row] = [r for r in built.register("screening").rows if "※" in r[0]]
    assert row[3] == 36.6 and "与哈希不符" in row[0]
    client = _client(store)
    page = client.get(f"/admin/registers?kiosk=gate-1&day={today}").get_data(as_text=True)
    assert "不能作证" in page and "MENWEI-SEAL-1|" not in page
    exported = client.get(f"/admin/registers.csv?kiosk=gate-1&day={today}&register=screening")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert any("与哈希不符" in r[0] and r[3] == "36.6" for r in rows), rows
    pdf = client.get(f"/admin/registers.pdf?kiosk=gate-1&day={today}&register=screening")
    pages = pdf_pages_png(pdf.data, tmp_path, dpi=110)
    assert not [code for png in pages for code in decode_png(png)]  # no seal to scan
    verdict = seal.verify(store, printed, CHINA)
    assert not verdict.ok and "序号 2" in verdict.message
    answer = client.post("/admin/seal", data={"seal": printed.text(), "csrf": _csrf(client)})
    assert "不符" in answer.get_data(as_text=True)


def test_a_record_rehashed_behind_the_hubs_back_breaks_the_chain_after_it(hub_store, tmp_path):
    """The forger recomputes the record's hash too: the next record no longer links to it."""
    from sync.contract import record_hash

    store = hub_store
    fever = _gate_with_a_fever(store, tmp_path)
    record = json.loads(store.fetch_one("SELECT record FROM events WHERE id = ?", (fever,))[0])
    record = {**record, "estimate_c": 36.6, "verdict": "admitted"}
    forge_record(store, fever, estimate_c=36.6, verdict="admitted", hash=record_hash(record))
    found, ok = integrity.check(store)
    assert not ok and any("#3" in line and "链接不上" in line for line in found), found
    today = registers.local_today(CHINA)
    assert registers.build_day(store, "gate-1", today, CHINA).unsound_seqs == [3]


def test_a_field_slipped_into_a_stored_record_is_named(hub_store, tmp_path):
    """The hash covers only the record's fields: a field added beside them would pass it."""
    store = hub_store
    fever = _gate_with_a_fever(store, tmp_path)
    forge_record(store, fever, shown_c=36.6)
    found, ok = integrity.check(store)
    assert not ok and any("#2" in line and "多出" in line for line in found), found


def _plain_columns(store: HubStore) -> None:
    """What a superuser can do to the derived columns: make them plain again."""
    if store.dialect is SQLITE:  # SQLite cannot drop an expression: the table is copied
        drop_guard(store)
        store.execute("CREATE TABLE events_plain AS SELECT * FROM events")
        store.execute("DROP TABLE events")
        store.execute("ALTER TABLE events_plain RENAME TO events")
    else:
        drop_guard(store)
        for name in ("estimate_c", "verdict"):
            store.execute(f"ALTER TABLE events ALTER COLUMN {name} DROP EXPRESSION")


def test_a_column_forged_by_a_superuser_is_named_and_marked(hub_store, tmp_path):
    store = hub_store
    fever = _gate_with_a_fever(store, tmp_path)
    with store.transaction():
        _plain_columns(store)
        store.execute(
            "UPDATE events SET estimate_c = 36.6, verdict = 'admitted' WHERE id = ?", (fever,)
        )
    found, ok = integrity.check(store)
    assert not ok
    assert any("保护缺失" in line and "events_written_once" in line for line in found), found
    assert any("保护缺失" in line and "estimate_c" in line for line in found), found
    assert any("#2" in line and "页面读取的列与记录不符" in line for line in found), found
    built = registers.build_day(store, "gate-1", registers.local_today(CHINA), CHINA)
    assert built.unsound_seqs == [2]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_existing_hub_migrates_with_nothing_lost(kind, tmp_path):
    with hub_database(kind, tmp_path, upto="013_compounds") as store:
        fever = _gate_with_a_fever(store, tmp_path)  # ingest as that hub wrote its rows
        with store.transaction():  # behind its back, before this release: a column changed
            store.execute(
                "UPDATE events SET estimate_c = 36.6, verdict = 'admitted' WHERE id = ?", (fever,)
            )
            store.execute("UPDATE events SET chain_ok = 0 WHERE seq = 4")
        kept = "SELECT ingest_seq, record, chain_ok, received_at FROM events ORDER BY ingest_seq"
        before = store.fetch_all(kept)
        top = before[-1][0]
        with store.transaction():  # the newest row gone (a restore): its number is not reused
            store.execute("DELETE FROM events WHERE ingest_seq = ?", (top,))

        store.migrate()

        assert store.fetch_all(kept) == before[:-1]
        assert store.fetch_one(SHOWN, (fever,)) == (38.6, "blocked")  # the record's
        [entry] = [e for e in audit_log(store) if e["action"] == "events.columns_differed"]
        assert entry["detail"]["count"] == 1
        assert entry["detail"]["records"][0]["seq"] == 2
        assert events_schema.missing_protections(store) == []
        said = _refused(store, "UPDATE events SET estimate_c = 36.6 WHERE id = ?", (fever,))
        assert "generated column" in said
        more = _records(tmp_path, 6)[4:]
        assert [a["status"] for a in store.ingest("gate-1", more)] == ["stored"] * 2
        numbers = [row[0] for row in store.fetch_all(kept)]
        assert numbers[-2] > top and numbers == sorted(numbers)


def test_retention_is_the_only_way_out_and_still_works(hub_store, tmp_path):
    store = hub_store
    assert store.enrol(store.create_enrol_code("gate-1")) is not None
    old = (datetime.now(UTC) - timedelta(days=60)).isoformat(timespec="microseconds")
    ledger = Ledger(tmp_path / "old.sqlite3", "gate-1")
    with mock.patch.object(clock, "now", lambda: clock.ClockFacts(old, True, "b", 1)):
        records = [ledger.append("screening", verdict="admitted") for _ in range(2)]
    records += [ledger.append("screening", verdict="admitted") for _ in range(2)]
    assert [a["status"] for a in store.ingest("gate-1", records)] == ["stored"] * 4
    with unguarded(store):  # the first two arrived 60 days ago too
        store.execute("UPDATE events SET received_at = ? WHERE seq <= 2", (old,))
    assert "保存期限" in _refused(store, "DELETE FROM events WHERE seq = 1")
    with store.transaction():  # a window left behind by hand does not let young rows go
        store.execute("INSERT INTO events_leaving (cutoff) VALUES ('2000-01-01')")
    assert "保存期限" in _refused(store, "DELETE FROM events WHERE seq = 1")
    with store.transaction():
        store.execute("DELETE FROM events_leaving")

    result = purge(store, 28)

    assert result.purged == 2 and store.event_ids() == {r["id"] for r in records[2:]}
    assert store.fetch_one("SELECT count(*) FROM events_leaving")[0] == 0
    assert [e for e in audit_log(store) if e["action"] == "retention.purge"]


def test_a_month_partition_made_after_the_migration_takes_records(hub_store, tmp_path):
    """Found by the purge benchmark: a partition made after the migration has no dropped
    columns, and PostgreSQL 15 gave event_keys' trigger NULL for every generated column of its
    rows; the next month's first batch would have failed."""
    if hub_store.dialect is SQLITE:
        pytest.skip("partitions: PostgreSQL only")
    from sync.hub import partitions

    store = hub_store
    assert store.enrol(store.create_enrol_code("gate-1")) is not None
    with store.transaction(ordered=True):
        partitions.create(store, "2031-05")
    records = _records(tmp_path)
    received = "2031-05-02T00:00:00.000000+00:00"
    with store.transaction(numbers_events=True):
        answers = store._ingest_batch("gate-1", records, received)
    assert [a["status"] for a in answers] == ["stored"] * 4
    assert store.fetch_one("SELECT count(*) FROM events_p203105")[0] == 4
    keys = store.fetch_all("SELECT id, kiosk_id, seq FROM event_keys ORDER BY seq")
    assert keys == [(r["id"], "gate-1", r["seq"]) for r in records]
    with store.transaction(numbers_events=True):
        again = store._ingest_batch("gate-1", records, received)
    assert [a["status"] for a in again] == ["duplicate"] * 4
    found, ok = integrity.check(store)
    assert ok, found
