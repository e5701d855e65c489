"""SQL that differs between the hub's two databases."""

from __future__ import annotations

from sync.hub.store import POSTGRES, HubStore


def json_field(store: HubStore, key: str) -> str:
    """The SQL for one field of an event's stored record (a JSON text)."""
    if store.dialect is POSTGRES:
        return f"(record::json ->> '{key}')"
    return f"(record ->> '$.{key}')"
