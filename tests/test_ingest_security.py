"""Issue 11, ingest and tamper evidence: each attack an attacker's review found, run against the
hub on SQLite and on PostgreSQL, and seen to fail (no 500, the rest of the batch stored, the
tampering flagged)."""

from __future__ import annotations

import io
import json
import math
import sqlite3
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from kiosk.ledger import Ledger, save_chain_key
from sync.contract import FIELD_RULES, GENESIS_HASH, WIRE_FIELDS, record_hash
from sync.hub import integrity
from sync.hub.app import create_hub
from sync.hub.store import MAC_MISMATCH, MAC_MISSING
from sync.protocol import MAX_JSON_DEPTH
from tests.sync_fixtures import add_records, drain, enrolled_client, make_ledger

HASH_BROKEN = "the record's hash does not match its content"


@pytest.fixture
def api(hub_store):
    """The hub's app, a kiosk token for gate-1, and three fresh gate-1 records to send."""
    app = create_hub(hub_store)
    enrolled = hub_store.enrol(hub_store.create_enrol_code("gate-1"))
    assert enrolled is not None
    return app.test_client(), {"Authorization": f"Bearer {enrolled[1]}"}, hub_store


def fresh_records(tmp_path, count: int = 3) -> list[dict[str, Any]]:
    ledger = make_ledger(tmp_path / "attack.sqlite3")
    records = [
        ledger.append("screening", verdict="admitted", estimate_c=36.6) for _ in range(count)
    ]
    ledger.close()
    return records


def post_raw(client, headers, body: str | bytes, path: str = "/api/v1/events"):
    return client.post(path, data=body, headers={**headers, "Content-Type": "application/json"})


RECORD_ATTACKS = {
    "1e30 float": {"estimate_c": 1e30},
    "1e30 integer (SQLite INTEGER overflow)": {"estimate_c": 10**30},
    "NaN": {"estimate_c": math.nan},
    "Infinity": {"object_c": math.inf},
    "-Infinity": {"ambient_c": -math.inf},
    "-273.15 °C": {"estimate_c": -273.15},
    "absolute zero object": {"object_c": -273.15},
    "threshold 1e30": {"threshold_c": 1e30},
    "NUL in reason": {"reason": "ok\x00evil"},
    "NUL in pass code": {"pass_code": "\x00"},
    "NUL in kiosk id": {"kiosk_id": "gate-1\x00"},
    "NUL inside detail JSON": {"detail": '{"plate": "京A\\u0000123"}'},
    "ESC in detail": {"detail": '{"note": "\\u001b[2J"}'},
    "detail not an object": {"detail": "[1, 2]"},
    "detail not JSON": {"detail": "{oops"},
    "detail NaN": {"detail": '{"x": NaN}'},
    "detail 200 KB": {"detail": json.dumps({"x": "a" * 200_000})},
    # A detail's outer object stands where the record does (2 deep): 32 nested objects reach
    # 33, one past the limit.
    "detail nested past the limit": {"detail": '{"a": ' * 32 + "1" + "}" * 32},
    "year 9999, clock synced": {
        "wall_time": "9999-12-31T23:59:59.000000+00:00",
        "clock_synced": 1,
    },
    "year 9999, clock not synced": {
        "wall_time": "9999-12-31T23:59:59.000000+00:00",
        "clock_synced": 0,
    },
    "1970, clock synced": {"wall_time": "1970-01-01T00:00:05+00:00", "clock_synced": 1},
    "a month ahead, clock not synced": {
        "wall_time": "2099-01-01T00:00:00+00:00",
        "clock_synced": 0,
    },
    "wall_time not a time": {"wall_time": "yesterday"},
    "wall_time without offset": {"wall_time": "2026-11-29T08:00:00"},
    "wall_time impossible date": {"wall_time": "2026-02-30T08:00:00+00:00"},
    "boottime_ns 2**70": {"boottime_ns": 2**70},
    "seq 2**63": {"seq": 2**63},
    "seq 0": {"seq": 0},
    "clock_synced true": {"clock_synced": True},
    "clock_synced 2": {"clock_synced": 2},
    "reason 300 chars": {"reason": "长" * 300},
    "unknown kind": {"kind": "drop_tables"},
    "verdict with markup": {"verdict": "<script>"},
    "links_to not a uuid": {"links_to": "'; DROP TABLE events; --"},
    "mac not hex": {"mac": "z" * 64},
    "extra field": {"evil": 1},
    "hash as a number": {"hash": 12345},
}


@pytest.mark.parametrize("attack", RECORD_ATTACKS, ids=list(RECORD_ATTACKS))
def test_a_bad_record_is_quarantined_alone_with_its_reason(api, tmp_path, attack):
    client, headers, store = api
    first, middle, last = fresh_records(tmp_path)
    bad = {**middle, **RECORD_ATTACKS[attack]}
    body = json.dumps({"records": [first, bad, last]}, ensure_ascii=True, allow_nan=True)

    response = post_raw(client, headers, body)

    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["results"]
    assert [r["status"] for r in results] == ["stored", "quarantined", "stored"]
    assert results[1]["reason"]
    assert store.event_ids() == {first["id"], last["id"]}
    [kept] = store.quarantined()
    assert kept["reason"] == results[1]["reason"] and kept["body"]
    # The refused record is kept whole for an admin, and its place in the chain is not a gap
    # (unless its place is what was wrong).
    if "seq" not in RECORD_ATTACKS[attack]:
        assert store.gaps() == []
    else:
        assert [(g["first"], g["last"]) for g in store.gaps()] == [(2, 2)]


def test_a_detail_nested_to_the_limit_is_stored(api, tmp_path):
    """The depth a detail may reach, whichever way the hub checks it (few brackets, or brackets
    inside its strings too)."""
    client, headers, store = api
    records = fresh_records(tmp_path, 2)
    records[0]["detail"] = '{"a": ' * 31 + "1" + "}" * 31
    records[1]["detail"] = '{"note": "' + "[" * 40 + '", "a": ' + '{"a": ' * 30 + "1" + "}" * 31
    response = post_raw(client, headers, json.dumps({"records": records}))
    assert [r["status"] for r in response.get_json()["results"]] == ["stored", "stored"]
    assert store.quarantined() == []


def test_a_record_with_a_nul_is_quarantined_and_shown_without_breaking_pages(api, tmp_path):
    client, headers, store = api
    [record] = fresh_records(tmp_path, 1)
    post_raw(client, headers, json.dumps({"records": [{**record, "reason": "\x00"}]}))
    lines = integrity.lines(store)
    assert any("reason 含控制字符" in line for line in lines), lines
    assert "\x00" not in "".join(lines)


BODY_ATTACKS = {
    "nested 100000 deep": "[" * 100_000 + "]" * 100_000,
    "nested objects past the limit": '{"records": '
    + '{"a": ' * MAX_JSON_DEPTH
    + "1"
    + "}" * MAX_JSON_DEPTH
    + "}",
    "lone surrogate": '{"records": [{"id": "\\ud800"}]}',
    "lone low surrogate in a key": '{"\\udfff": 1, "records": []}',
    "malformed": '{"records": [',
    "not an object": "[]",
    "empty": "",
    "5000-digit integer": '{"records": [], "queue": ' + "9" * 5000 + "}",
}


@pytest.mark.parametrize("attack", BODY_ATTACKS, ids=list(BODY_ATTACKS))
def test_bad_bodies_are_a_400_on_ingest(api, attack):
    client, headers, store = api
    response = post_raw(client, headers, BODY_ATTACKS[attack])
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["message"]
    assert store.event_ids() == set()


@pytest.mark.parametrize("attack", BODY_ATTACKS, ids=list(BODY_ATTACKS))
def test_bad_bodies_are_a_400_on_enrol_without_a_token(api, attack):
    client, _, _ = api
    response = post_raw(client, {}, BODY_ATTACKS[attack], "/api/v1/enrol")
    assert response.status_code == 400, response.get_data(as_text=True)


def test_bad_utf8_and_nul_codes_and_ids_are_a_400(api):
    client, headers, _ = api
    assert post_raw(client, {}, b'{"code": "\xff\xfe"}', "/api/v1/enrol").status_code == 400
    assert post_raw(client, {}, '{"code": "AB\\u0000"}', "/api/v1/enrol").status_code == 400
    assert post_raw(client, {}, '{"code": "\\ud800"}', "/api/v1/enrol").status_code == 400
    nul_ids = json.dumps({"ids": ["a\x00b"]})
    assert post_raw(client, headers, nul_ids, "/api/v1/held").status_code == 400
    bad_head = json.dumps({"code": "X", "epoch": "e\x00", "next_seq": 1})
    assert post_raw(client, {}, bad_head, "/api/v1/enrol").status_code == 400


def test_a_2mb_field_is_refused_not_a_500(api, tmp_path):
    client, headers, _ = api
    [record] = fresh_records(tmp_path, 1)
    body = json.dumps({"records": [{**record, "reason": "x" * (2 * 1024 * 1024)}]})
    assert post_raw(client, headers, body).status_code == 413


def _legacy_row(store, record: dict[str, Any]) -> None:
    """A record stored before total validation (as an old hub took it)."""
    text = json.dumps(record, ensure_ascii=True, allow_nan=True, sort_keys=True)
    with store.transaction(ordered=True):  # the database derives the columns it shows
        store.execute(
            "INSERT INTO events (record, chain_ok, received_at) VALUES (?, 1, ?)",
            (text, record["wall_time"]),
        )


def test_the_reader_api_never_emits_nan(api, tmp_path):
    client, _, store = api
    [record] = fresh_records(tmp_path, 1)
    _legacy_row(store, {**record, "estimate_c": math.nan, "object_c": math.inf})
    token = store.create_reader("street-office")
    response = client.get("/api/v1/ledger", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "NaN" not in text and "Infinity" not in text
    event = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the reader API"))
    assert event["events"][0]["record"]["estimate_c"] is None


def test_a_nul_in_one_stored_record_does_not_break_the_xlsx_export(api, tmp_path):
    from openpyxl import load_workbook

    from sync.hub.admins import create_admin
    from tests.hub_helpers import PASSWORD, signed_in

    _, _, store = api
    first, second = fresh_records(tmp_path, 2)
    _legacy_row(store, {**first, "kind": "vehicle", "detail": '{"plate": "京A\\u000012345"}'})
    _legacy_row(store, second)
    create_admin(store, "admin-user", PASSWORD, "admin")
    admin, _ = signed_in(create_hub(store), "admin")
    response = admin.get("/admin/ledger.xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert len(rows) == 4  # title, header, the two records
    assert "京A12345" in [cell for row in rows for cell in row]


def test_the_openapi_record_schema_is_the_field_rules(api):
    client, _, _ = api
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Record"]
    assert sorted(schema["properties"]) == sorted(WIRE_FIELDS)
    for name, rule in FIELD_RULES.items():
        prop = schema["properties"][name]
        assert prop["type"] == rule.type
        assert prop.get("maxLength") == rule.max_length
        assert prop.get("minimum") == rule.minimum and prop.get("maximum") == rule.maximum
        assert prop.get("pattern") == rule.pattern
    assert schema["additionalProperties"] is False


# -- tamper evidence -------------------------------------------------------------------------


def _attacker(ledger: Ledger) -> sqlite3.Connection:
    """Someone with a copy of the kiosk's database (not its chain key) and sqlite3."""
    conn = sqlite3.connect(ledger.path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("DROP TRIGGER events_append_only")
    conn.execute("DROP TRIGGER events_keep_unsynced")
    return conn


def _rehash_from(conn: sqlite3.Connection, seq: int) -> None:
    """Recompute hash and prev_hash from ``seq`` on, as the old unkeyed chain allowed."""
    rows = [dict(r) for r in conn.execute("SELECT * FROM events ORDER BY seq")]
    previous = GENESIS_HASH
    for row in rows:
        if row["seq"] >= seq:
            row["prev_hash"] = previous
            new = record_hash(row)
            conn.execute(
                "UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?",
                (previous, new, row["id"]),
            )
            row["hash"] = new
        previous = row["hash"]
    conn.execute("UPDATE chain_head SET last_hash = ?", (previous,))


def keyed_kiosk(hub, tmp_path) -> tuple[Ledger, str]:
    """A kiosk enrolled as ``kiosk enrol`` does it: the ledger's head sent, the key saved."""
    ledger = make_ledger(tmp_path / "k.sqlite3")
    add_records(ledger, 2)  # written before the kiosk was enrolled: not keyed
    epoch, next_seq = ledger.head()
    code = hub.store.create_enrol_code("gate-1")
    body = requests.post(
        f"{hub.start().url}/api/v1/enrol",
        json={"code": code, "epoch": epoch, "next_seq": next_seq},
        timeout=5,
    ).json()
    save_chain_key(tmp_path, bytes.fromhex(body["chain_key"]))
    add_records(ledger, 4)
    return ledger, body["token"]


def _drain_with(hub, ledger: Ledger, token: str) -> None:
    from sync.client import SyncClient

    drain(SyncClient(ledger, hub.url, token, timeout=(1.0, 1.0)))


def test_keyed_records_sync_without_breaks(hub, tmp_path):
    ledger, token = keyed_kiosk(hub, tmp_path)
    macs = [row["mac"] for row in ledger.events()]
    assert macs[:2] == [None, None] and all(macs[2:])
    _drain_with(hub, ledger, token)
    assert len(hub.store.event_ids()) == 6
    assert hub.store.chain_breaks() == [] and hub.store.gaps() == []


def test_rewritten_and_rehashed_unsynced_records_are_detected(hub, tmp_path):
    ledger, token = keyed_kiosk(hub, tmp_path)
    conn = _attacker(ledger)
    conn.execute("UPDATE events SET estimate_c = 36.1, verdict = 'admitted' WHERE seq = 4")
    _rehash_from(conn, 4)
    conn.close()
    assert ledger.verify_chain().ok  # the unkeyed check on the kiosk cannot see it

    _drain_with(hub, ledger, token)

    breaks = [(b["seq"], b["problem"]) for b in hub.store.chain_breaks()]
    assert breaks == [(4, MAC_MISMATCH), (5, MAC_MISMATCH), (6, MAC_MISMATCH)]
    assert all(b.breaks for b in integrity.report(hub.store))


def test_stripping_the_macs_is_detected(hub, tmp_path):
    ledger, token = keyed_kiosk(hub, tmp_path)
    conn = _attacker(ledger)
    conn.execute("UPDATE events SET estimate_c = 36.1, mac = NULL WHERE seq = 5")
    _rehash_from(conn, 5)
    conn.execute("UPDATE events SET mac = NULL WHERE seq >= 5")
    conn.close()
    _drain_with(hub, ledger, token)
    breaks = [(b["seq"], b["problem"]) for b in hub.store.chain_breaks()]
    assert breaks == [(5, MAC_MISSING), (6, MAC_MISSING)]


def test_deleting_and_renumbering_unsynced_records_is_detected(hub, tmp_path):
    ledger, token = keyed_kiosk(hub, tmp_path)
    conn = _attacker(ledger)
    conn.execute("DELETE FROM events WHERE seq = 4")
    conn.execute("UPDATE events SET seq = seq - 1 WHERE seq > 4")
    conn.execute("UPDATE chain_head SET next_seq = next_seq - 1")
    _rehash_from(conn, 4)
    conn.close()
    _drain_with(hub, ledger, token)
    assert {b["problem"] for b in hub.store.chain_breaks()} == {MAC_MISMATCH}


def test_a_deleted_unsynced_record_is_a_gap_never_filled(hub, tmp_path):
    from sync.hub.admins import create_admin
    from tests.hub_helpers import PASSWORD, signed_in

    ledger = make_ledger(tmp_path / "k.sqlite3", records=5)
    conn = _attacker(ledger)
    conn.execute("DELETE FROM events WHERE seq = 3")
    conn.close()
    drain(enrolled_client(hub.start(), ledger))

    [gap] = hub.store.gaps()
    assert (gap["kiosk_id"], gap["first"], gap["last"], gap["settled"]) == ("gate-1", 3, 3, True)
    assert any("序号 3 缺失" in line for line in integrity.lines(hub.store))
    create_admin(hub.store, "admin-user", PASSWORD, "admin")
    admin, _ = signed_in(create_hub(hub.store), "admin")
    page = admin.get("/admin/kiosks").get_data(as_text=True)
    assert "序号 3 缺失" in page


def test_a_gap_while_the_kiosk_still_sends_is_not_an_alarm(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=4)
    add_records(ledger, 1, verdict="blocked")  # sent first, ahead of 1-4
    client = enrolled_client(hub.start(), ledger, batch_size=2)
    client.push_batch()
    [gap] = hub.store.gaps()
    assert (gap["first"], gap["last"], gap["settled"]) == (2, 4, False)
    assert "尚未收到" in integrity.lines(hub.store)[1]
    drain(client)
    assert hub.store.gaps() == []


def test_conflicts_and_quarantine_are_shown_in_the_cli(hub, tmp_path):
    from sync.hub.cli import main

    ledger = make_ledger(tmp_path / "k.sqlite3", records=1)
    client = enrolled_client(hub.start(), ledger)
    [record] = ledger.unsent_batch(200)
    drain(client)
    for forged in ({**record, "estimate_c": 36.0}, {**record, "estimate_c": math.nan}):
        requests.post(
            f"{hub.url}/api/v1/events",
            data=json.dumps({"records": [forged]}, allow_nan=True),
            headers={**client._http.headers, "Content-Type": "application/json"},
            timeout=5,
        )
    result = CliRunner().invoke(main, ["integrity", "--db", hub.store.url])
    assert result.exit_code == 1, result.output  # something was found
    assert "冲突 conflict" in result.output and "同一记录编号、内容不同" in result.output
    assert "被拒 refused" in result.output and "estimate_c 不是有限数" in result.output


def test_an_old_kiosk_ledger_migrates_with_its_records(tmp_path):
    """A ledger from before the keyed chain (no mac column) opens, keeps every record, and its
    records still verify and sync as unkeyed."""
    ledger = make_ledger(tmp_path / "old.sqlite3", records=3)
    ids = [r["id"] for r in ledger.events()]
    conn = ledger.connection()
    conn.execute("DROP TRIGGER events_append_only")
    conn.execute("ALTER TABLE events DROP COLUMN mac")
    conn.execute(  # the old trigger's shape (m005); m008 replaces it
        "CREATE TRIGGER events_append_only BEFORE UPDATE ON events WHEN NEW.hash IS NOT OLD.hash"
        " BEGIN SELECT RAISE(ABORT, 'ledger events are append-only'); END"
    )
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm008_chain_mac'")
    ledger.close()

    reopened = Ledger(tmp_path / "old.sqlite3", "gate-1")
    assert [r["id"] for r in reopened.events()] == ids
    assert [r["mac"] for r in reopened.events()] == [None, None, None]
    assert reopened.verify_chain().ok
    reopened.append("screening", verdict="admitted")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        reopened.connection().execute("UPDATE events SET mac = 'x' WHERE seq = 1")


# -- reader tokens and retention -------------------------------------------------------------


def test_reader_tokens_are_listed_revocable_and_their_reads_audited(api):
    from sync.hub.admins import audit_log
    from sync.hub.cli import main

    client, _, store = api
    token = store.create_reader("street-office")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/ledger?since=0&limit=5", headers=auth).status_code == 200
    [entry] = [e for e in audit_log(store) if e["action"] == "reader.read"]
    assert entry["username"] == "reader:street-office"
    assert entry["detail"] == {"since": 0, "count": 0}
    [listed] = store.readers()
    assert listed["name"] == "street-office" and listed["last_read_at"]

    runner = CliRunner()
    result = runner.invoke(main, ["readers", "--db", store.url])
    assert result.exit_code == 0 and "street-office: 有效 active" in result.output
    result = runner.invoke(main, ["reader-revoke", "--db", store.url, "street-office"])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/ledger", headers=auth).status_code == 401
    assert "已吊销" in runner.invoke(main, ["readers", "--db", store.url]).output
    again = runner.invoke(main, ["reader-revoke", "--db", store.url, "street-office"])
    assert again.exit_code != 0 and "没有有效的读取令牌" in again.output
    # A new token for the same name works again; the revoked one stays dead.
    fresh = store.create_reader("street-office")
    assert client.get("/api/v1/ledger", headers=auth).status_code == 401
    assert (
        client.get("/api/v1/ledger", headers={"Authorization": f"Bearer {fresh}"}).status_code
        == 200
    )


def test_retention_purges_audit_register_and_roster_history(hub_store):
    from datetime import UTC, datetime, timedelta

    from sync.hub.admins import audit
    from sync.hub.retention import purge

    store = hub_store
    now = datetime.now(UTC)
    long_ago = (now - timedelta(days=200)).isoformat()
    store.roster_put("guard", "g1", {"pin_hash": "old"})
    store.roster_put("guard", "g1", {"pin_hash": "new"})
    store.roster_put("pass", "P1", {"expires_on": "2026-12-01"})
    with store.transaction():
        store.execute("UPDATE roster SET changed_at = ?", (long_ago,))
        audit(store, "admin", "old.thing", {})
        store.execute("UPDATE audit SET at = ?", (long_ago,))
        audit(store, "admin", "recent.thing", {})
        store.execute(
            "INSERT INTO residents (resident_id, building, unit, room, name, role, created_at,"
            " compound_id) VALUES ('r1', '1', '1', '101', '张三', 'resident', ?,"
            " (SELECT min(compound_id) FROM compounds))",
            (long_ago,),
        )
        for ends in ((now - timedelta(days=60)).date(), (now + timedelta(days=3)).date()):
            store.execute(
                "INSERT INTO quarantine_register (resident_id, starts_on, ends_on, created_by,"
                " created_at) VALUES ('r1', ?, ?, 'health', ?)",
                (str(ends - timedelta(days=14)), str(ends), long_ago),
            )

    result = purge(store, 28, audit_days=180)

    assert (result.roster_purged, result.audit_purged, result.register_purged) == (1, 1, 1)
    assert [(c["key"], c["data"]) for c in store.roster_since(0, 10)] == [
        ("g1", {"pin_hash": "new"}),
        ("P1", {"expires_on": "2026-12-01"}),
    ]
    actions = [row[0] for row in store.fetch_all("SELECT action FROM audit ORDER BY aid")]
    assert actions == ["recent.thing", "retention.purge"]
    assert store.fetch_one("SELECT count(*) FROM quarantine_register")[0] == 1
