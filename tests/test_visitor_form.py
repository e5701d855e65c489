"""The visitor form's new fields (field trial: the 外来人员登记 asks for a name, an ID number and
the room; the kiosk took none): 姓名 required, 房号 from the roster, 身份证号 optional, checked by
GB 11643, and kept only masked and as a keyed hash — at the gate and at the hub, which still
finds the visitor by the number they show."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.enrolment import enrol_kiosk, read_token
from kiosk.guard_accounts import add_guard
from kiosk.guard_desk import GuardDesk
from kiosk.passes import upsert
from kiosk.visitor_ids import VISITOR_ID_KEY_FILE, load_visitor_id_key
from kiosk.visitors import FormError, parse_id_number, parse_visitor
from kiosk.web import create_app
from sync.client import SyncClient
from sync.contract import (
    VISITOR_DETAIL,
    id_number_check,
    id_number_hash,
    mask_id_number,
    visitor_id_key,
)
from sync.hub.admins import create_admin
from sync.hub.app import create_hub
from sync.hub.visitor_ids import find_visitors
from tests.gate_helpers import resident_pass, sign_in
from tests.hub_helpers import PASSWORD, signed_in
from tests.sync_fixtures import drain

WANG = {"guard_id": "wang", "name": "王师傅"}
ID = "11010519491231002X"  # GB 11643's own example: valid
FORM = {
    "phone": "13812345678",
    "building": "3",
    "unit": "2",
    "room": "301",
    "name": "李女士",
    "purpose": "delivery",
    "risk_area": "none",
    "code_colour": "green",
}


def with_check(first_17: str) -> str:
    return first_17 + id_number_check(first_17)


def same_mask_other_person(number: str) -> str:
    """Another valid number with the same mask: same region and last four, another birthday."""
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    for days in range(1, 4000):
        other = number[:6] + (born + timedelta(days=days)).strftime("%Y%m%d") + number[14:17]
        if id_number_check(other) == number[17]:
            return other + number[17]
    raise AssertionError("none found")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (ID, ID),
        (ID.lower(), ID),  # a lower-case x
        ("110105 19491231 002X", ID),  # spaces as people group it
        ("", None),
        (None, None),
    ],
)
def test_good_id_numbers(raw, expected):
    assert parse_id_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("11010519491231002", "应为 18 位"),  # 17 digits
        ("1101051949123100211", "应为 18 位"),
        ("11010519491231002Y", "应为 18 位"),
        ("01010519491231002X", "第 1 位不能是 0"),
        (with_check("11010519491331002"), "出生日期 19491331 不是有效日期"),
        (with_check("11010518000101002"), "出生日期"),  # before 1900
        (with_check("11010599990101002"), "出生日期"),  # the future
        ("110105194912310021", "校验位不对"),
        ("110105194912310020", "校验位不对"),
    ],
)
def test_bad_id_numbers_say_what_is_wrong_in_chinese(raw, words):
    with pytest.raises(FormError) as caught:
        parse_id_number(raw)
    assert caught.value.field == "id_number"
    assert caught.value.message.startswith("身份证号：") and words in caught.value.message


@given(st.text(alphabet="0123456789Xx ", max_size=20))
def test_any_typed_id_is_a_number_with_a_right_check_or_a_form_error(raw):
    try:
        number = parse_id_number(raw)
    except FormError as exc:
        assert exc.field == "id_number"
        return
    assert number is None or id_number_check(number[:17]) == number[17]


ROOMS = {"3": {"2": ["301", "302"]}}


def parse(**changes):
    return parse_visitor(
        {**FORM, **changes}, places={"3": ["2"], "4": ["1"]}, risk_areas=[], rooms=ROOMS
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": ""}, "name", "请点姓氏"),
        ({"name": None}, "name", "必填"),
        ({"room": ""}, "room", "必填"),
        ({"room": "999"}, "room", "3 栋 2 单元的房号"),
        ({"building": "4", "unit": "1", "room": "30-1"}, "room", "1–6 位数字或字母"),
        ({"id_number": "123"}, "id_number", "18 位"),
    ],
)
def test_the_new_fields_are_checked(changes, field, words):
    with pytest.raises(FormError) as caught:
        parse(**changes)
    assert caught.value.field == field and words in caught.value.message


def test_a_unit_the_roster_knows_no_rooms_of_takes_a_typed_room():
    visitor = parse(building="4", unit="1", room="1202")
    assert (visitor.building, visitor.unit, visitor.room) == ("4", "1", "1202")


def test_the_full_number_is_never_in_the_visitors_repr():
    assert ID not in repr(parse(id_number=ID))


@pytest.fixture
def kiosk(start_kiosk):
    k = start_kiosk()
    conn = k.ledger.connection()
    add_guard(conn, "wang", "王师傅", "483190")
    upsert(conn, [resident_pass("E5001")], source="test")
    return k


def ledger_bytes(kiosk) -> bytes:
    data = b""
    for path in kiosk.config.data_dir.iterdir():
        if path.name.startswith("ledger") and path.is_file():
            data += path.read_bytes()
    return data


def test_the_visitor_record_holds_exactly_the_contract_detail_and_no_full_id(kiosk):
    (kiosk.config.data_dir / VISITOR_ID_KEY_FILE).write_text("ab" * 32)
    desk = GuardDesk(kiosk.gate)
    record = desk.register_visitor(parse(id_number=ID), WANG)
    detail = json.loads(record["detail"])
    assert set(detail) == set(VISITOR_DETAIL)
    assert (detail["name"], detail["room"]) == ("李女士", "301")
    assert detail["id_masked"] == "110105********002X" == mask_id_number(ID)
    assert detail["id_hash"] == id_number_hash(bytes.fromhex("ab" * 32), ID)
    kiosk.ledger.connection().execute("PRAGMA wal_checkpoint(FULL)")
    assert ID.encode() not in ledger_bytes(kiosk)
    assert b"19491231" not in ledger_bytes(kiosk)


def test_without_a_key_the_kiosk_keeps_the_masked_number_only(kiosk):
    assert load_visitor_id_key(kiosk.config.data_dir) is None
    record = GuardDesk(kiosk.gate).register_visitor(parse(id_number=ID), WANG)
    detail = json.loads(record["detail"])
    assert (detail["id_masked"], detail["id_hash"]) == ("110105********002X", None)


def test_a_returning_visitor_gets_name_room_and_id_from_their_earlier_record(kiosk):
    client = create_app(kiosk.gate).test_client()
    headers = sign_in(client)
    (kiosk.config.data_dir / VISITOR_ID_KEY_FILE).write_text("cd" * 32)
    first = client.post("/api/guard/visitor", json={**FORM, "id_number": ID}, headers=headers)
    assert first.status_code == 200, first.get_json()
    options = client.get("/api/guard/options", headers=headers).get_json()
    [recent] = options["recent_visitors"]
    assert recent["phone"] == "138****5678" and recent["room"] == "301"
    assert recent["has_name"] and recent["has_id"]
    assert "李女士" not in json.dumps(recent, ensure_ascii=False)  # lists show no names
    assert options["rooms"] == {"3": {"2": ["301"]}}
    assert options["surnames"][:3] == ["王", "李", "张"] and options["titles"] == ["先生", "女士"]
    again = {
        k: FORM[k] for k in ("building", "unit", "room", "purpose", "risk_area", "code_colour")
    }
    second = client.post(
        "/api/guard/visitor", json={**again, "same_as": recent["id"]}, headers=headers
    )
    assert second.status_code == 200, second.get_json()
    first_detail, second_detail = (
        json.loads(e["detail"]) for e in kiosk.ledger.events() if e["kind"] == "visitor"
    )
    for key in ("phone", "name", "id_masked", "id_hash", "room"):
        assert second_detail[key] == first_detail[key], key


def test_a_bad_id_number_records_nothing_and_names_the_field(kiosk):
    client = create_app(kiosk.gate).test_client()
    headers = sign_in(client)
    before = kiosk.ledger.count()
    response = client.post(
        "/api/guard/visitor", json={**FORM, "id_number": "110105194912310021"}, headers=headers
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == "id_number" and body["message"].startswith("身份证号：校验位不对")
    assert kiosk.ledger.count() == before


def test_the_hub_finds_the_visitor_by_the_number_and_not_by_a_look_alike(kiosk, hub):
    running = hub.start()
    code = running.store.create_enrol_code(kiosk.config.kiosk.id)
    enrol_kiosk(kiosk.config, kiosk.ledger, code, running.url)
    key = load_visitor_id_key(kiosk.config.data_dir)
    assert key == visitor_id_key(running.store.keys.id_key, kiosk.config.kiosk.id)
    desk = GuardDesk(kiosk.gate)
    desk.register_visitor(parse(id_number=ID), WANG)
    look_alike = same_mask_other_person(ID)
    assert mask_id_number(look_alike) == mask_id_number(ID) and look_alike != ID
    desk.register_visitor(parse(id_number=look_alike, phone="13900001111"), WANG)
    token = read_token(kiosk.config.data_dir)
    client = SyncClient(kiosk.ledger, running.url, token, timeout=(1.0, 1.0))
    drain(client)
    [found] = find_visitors(running.store, ID)
    assert (found["phone"], found["place"], found["match"]) == ("138****5678", "3-2-301", "id")
    [other] = find_visitors(running.store, look_alike)
    assert other["phone"] == "139****1111"
    assert find_visitors(running.store, "110105194912310021") == []  # not a valid number
    # The page: POSTed, audited, JSON with the masked number only.
    create_admin(running.store, "health-user", PASSWORD, "health")
    page_client, csrf = signed_in(create_hub(running.store), "health")
    answer = page_client.post("/admin/visitors/by-id", data={"csrf": csrf, "id_number": ID})
    assert answer.status_code == 200
    [shown] = answer.get_json()["visitors"]
    assert shown["id_masked"] == "110105********002X" and shown["match"] == "id"
    assert ID not in answer.get_data(as_text=True)
    # Nowhere in the hub's database is the full number.
    rows = running.store.fetch_all("SELECT record FROM events WHERE kind = 'visitor'")
    assert rows and not any(ID in row[0] or look_alike in row[0] for row in rows)


def test_every_visitor_detail_key_is_documented():
    from pathlib import Path

    schema = (Path(__file__).parent.parent / "docs" / "schema.md").read_text(encoding="utf-8")
    section = schema.split("## Visitor records and ID numbers")[1].split("\n## ")[0]
    for key in VISITOR_DETAIL:
        assert f"`{key}`" in section, key
