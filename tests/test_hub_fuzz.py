"""Schemathesis against the hub's own OpenAPI document: no 5xx, no answer outside the schema.

Besides what schemathesis derives from the schema, every generated body may be poisoned at one
place with what an attacker sends (issue 11): deep nesting, lone surrogates, 1e30, NaN,
Infinity, NUL, the year 9999, a 2 MB field."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core import NotSet

from sync.contract import WIRE_FIELDS
from sync.hub.app import create_hub
from sync.hub.store import HubStore

# Schemathesis reads the schema when the module is collected, so the hub under test is made
# here, on a SQLite file in a temporary directory removed when the module's tests end.
_workdir = tempfile.TemporaryDirectory(prefix="menwei-fuzz-")
_store = HubStore(f"sqlite:///{_workdir.name}/hub.sqlite3")
_store.migrate()
_enrolled = _store.enrol(_store.create_enrol_code("fuzz-gate"))
assert _enrolled is not None
KIOSK_TOKEN = _enrolled[1]
READER_TOKEN = _store.create_reader("fuzzer")
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", create_hub(_store))


def _nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"a": value}
    return value


ATTACKS = st.sampled_from(
    [
        1e30,
        10**30,
        float("nan"),
        float("inf"),
        float("-inf"),
        -273.15,
        "\x00",
        "gate\x00",
        "\ud800",
        "ok\udfff",
        "9999-12-31T23:59:59.999999+00:00",
        "x" * (2 * 1024 * 1024),
        _nested(200),
        True,
        -1,
        2**64,
    ]
)


def _places(value: Any, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON value where an attack can go (the value itself included)."""
    places = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            places += _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            places += _places(item, (*path, index))
    return places


def _put(value: Any, path: tuple, attack: Any) -> Any:
    if not path:
        return attack
    head, *rest = path
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _put(value[head], tuple(rest), attack)
    return copy


def _template() -> dict[str, Any]:
    """A record the hub stores, to start from: attacks must reach the database, not only the
    validation that refuses records schemathesis makes up."""
    from kiosk.ledger import Ledger

    ledger = Ledger(f"{_workdir.name}/template.sqlite3", "fuzz-gate")
    record = ledger.append("screening", verdict="admitted", estimate_c=36.6, detail={"n": 1})
    ledger.close()
    return record


TEMPLATE = _template()
VALID_RECORDS = st.lists(
    st.builds(
        lambda uid, seq: {**TEMPLATE, "id": str(uid), "seq": seq},
        st.uuids(version=4),
        st.integers(1, 2**62),
    ),
    min_size=1,
    max_size=3,
)


@schema.hook
def flatmap_body(context, body):
    """Bodies as schemathesis made them, or with storable records; half of them with one attack
    at one place."""
    if not isinstance(body, dict | list):
        return st.just(body)
    if isinstance(body, dict) and "records" in body:
        return st.one_of(st.just(body), VALID_RECORDS.map(lambda rs: {"records": rs})).flatmap(
            _poisoned
        )
    return _poisoned(body)


def _poisoned(body: Any) -> st.SearchStrategy:
    poisoned = st.tuples(st.sampled_from(_places(body)), ATTACKS).map(
        lambda pick: _put(body, pick[0], pick[1])
    )
    return st.one_of(st.just(body), poisoned)


@pytest.fixture(scope="module", autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    _store.close()
    _workdir.cleanup()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_hub_api_conforms_to_its_schema(case):
    token = READER_TOKEN if case.path == "/api/v1/ledger" else KIOSK_TOKEN
    headers = {"Authorization": f"Bearer {token}"}
    extra: dict[str, Any] = {}
    if case.method.upper() == "POST" and not isinstance(case.body, NotSet):
        # Serialised here, as a kiosk's json.dumps would: NaN and Infinity go out as such.
        body = case.body
        extra["data"] = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    case.call_and_validate(
        headers=headers,
        **extra,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


@given(
    field=st.sampled_from(WIRE_FIELDS),
    attack=ATTACKS.filter(lambda a: not isinstance(a, str) or len(a) < 1000),
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_attack_in_every_field_of_a_storable_record(field, attack):
    """Each attack value in each field of a record the hub would otherwise store, beside a good
    one: a 200, the good record stored, the poisoned one stored or quarantined, never a 5xx."""
    client = create_hub(_store).test_client()
    epoch = uuid.uuid4().hex  # its own place: the schemathesis test stores records too
    poisoned = {**TEMPLATE, "id": str(uuid.uuid4()), "epoch": epoch, "seq": 1, field: attack}
    good = {**TEMPLATE, "id": str(uuid.uuid4()), "epoch": epoch, "seq": 2}
    response = client.post(
        "/api/v1/events",
        data=json.dumps({"records": [poisoned, good]}),
        headers={"Authorization": f"Bearer {KIOSK_TOKEN}", "Content-Type": "application/json"},
    )
    # 400 only for what the body parser refuses (a lone surrogate, nesting past the limit).
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 200:
        statuses = [r["status"] for r in response.get_json()["results"]]
        assert statuses[1] == "stored" and statuses[0] in ("stored", "quarantined")
