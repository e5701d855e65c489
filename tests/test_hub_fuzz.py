"""Schemathesis against the hub's own OpenAPI document: no 5xx, no answer outside the schema."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

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
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
