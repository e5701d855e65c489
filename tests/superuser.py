"""What someone holding the hub database's superuser can do behind the hub's back: lift the
protections of ``events`` (sync/hub/events_schema.py), act, and put them back. Tests use it to
stage what a backup restore or a clock did, and to forge records the way an attacker would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sync.hub import events_schema
from sync.hub.store import SQLITE, HubStore


def drop_guard(store: HubStore) -> None:
    if store.dialect is SQLITE:
        for name in events_schema.SQLITE_TRIGGERS:
            store.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        for name in events_schema.POSTGRES_TRIGGERS:
            store.execute(f"DROP TRIGGER IF EXISTS {name} ON events")


@contextmanager
def unguarded(store: HubStore) -> Iterator[HubStore]:
    """In one transaction: the triggers dropped, whatever the block does, the triggers back."""
    with store.transaction():
        drop_guard(store)
        yield store
        for statement in events_schema.guard_statements(store.dialect.name):
            store.execute(statement)


def forge_record(store: HubStore, event_id: str, **fields: object) -> None:
    """Change fields of a stored record's JSON (its hash left as it was), triggers dropped for
    the moment, as `UPDATE events SET record = …` by a superuser."""
    import json

    text = store.fetch_one("SELECT record FROM events WHERE id = ?", (event_id,))[0]
    record = {**json.loads(text), **fields}
    forged = json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    with unguarded(store):
        store.execute("UPDATE events SET record = ? WHERE id = ?", (forged, event_id))
