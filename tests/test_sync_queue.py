"""The unsent count a kiosk sends with its batches: counting reads the whole backlog, so while a
backlog drains it goes with every QUEUE_EVERY-th batch, and always with the last one, which
tells the hub the kiosk holds nothing more (what settles a gap)."""

from __future__ import annotations

from sync.client import QUEUE_EVERY
from tests.sync_fixtures import add_records, drain, enrolled_client, make_ledger


def reported(hub) -> int | None:
    [kiosk] = hub.store.kiosks()
    return kiosk["queue_reported"]


def test_a_backlog_of_whole_batches_ends_with_the_hub_told_nothing_is_left(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=5 * (QUEUE_EVERY + 1))
    client = enrolled_client(hub.start(), ledger, batch_size=5)  # the last batch is full
    sent = []
    for _ in range(QUEUE_EVERY + 1):
        client.push_batch()
        sent.append(reported(hub))
    # Counted with the QUEUE_EVERY-th batch (what was left after it), kept until the last.
    assert sent[: QUEUE_EVERY - 1] == [None] * (QUEUE_EVERY - 1)
    assert sent[QUEUE_EVERY - 1] == 5
    assert sent[QUEUE_EVERY] == 0
    assert ledger.queue()[0] == 0


def test_new_records_during_a_drain_are_counted_with_the_last_batch(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=12)
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.push_batch()
    add_records(ledger, 4)  # people kept coming through the gate
    drain(client)
    assert reported(hub) == 0 and ledger.queue()[0] == 0
    add_records(ledger, 3)
    client.push_batch()
    assert reported(hub) == 0
