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


class CountingOutbox:
    """The ledger, counting how often the sync client counts the backlog."""

    def __init__(self, ledger) -> None:
        self.ledger = ledger
        self.counted = 0

    def __getattr__(self, name: str):
        return getattr(self.ledger, name)

    def queue(self) -> tuple[int, str | None]:
        self.counted += 1
        return self.ledger.queue()


def test_the_sync_loop_counts_a_draining_backlog_with_every_tenth_batch_not_each(hub, tmp_path):
    """The count for the hub went with every 10th batch, but the loop around it counted again
    (and saved its state) after every batch: a scan of the backlog per batch, 500 of them for
    100,000 records."""
    batches = 2 * QUEUE_EVERY + 1
    ledger = make_ledger(tmp_path / "k.sqlite3", records=5 * (batches - 1) + 2)
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.outbox = outbox = CountingOutbox(ledger)
    client.cycle()  # the first batch after a start: the screen shows the backlog at once
    assert client.state.queue == 5 * (batches - 2) + 2 and outbox.counted == 1
    assert ledger.load_sync_state()["queue"] == client.state.queue
    drain(client)
    # The first batch for the state; the 10th, the 20th and the last for the hub and the state.
    assert outbox.counted == 7, outbox.counted
    assert reported(hub) == 0 and ledger.queue() == (0, None)
    assert ledger.load_sync_state()["queue"] == 0  # what `kiosk status` reads


def test_the_oldest_unsent_record_is_the_first_still_waiting(tmp_path):
    """The one waiting longest is the first appended, whatever the wall clock said after it
    (a clock stepped back one hour does not make a later record older)."""
    from unittest import mock

    from kiosk import clock

    ledger = make_ledger(tmp_path / "k.sqlite3", records=2)
    first, second = ledger.events()
    stepped_back = clock.ClockFacts("2026-11-29T00:00:00.000000+00:00", False, "b", 1)
    with mock.patch.object(clock, "now", lambda: stepped_back):
        add_records(ledger, 1)
    assert ledger.queue() == (3, first["wall_time"])
    ledger.mark_sent([first["id"]], "2026-11-29T08:00:00+00:00")
    assert ledger.queue() == (2, second["wall_time"])
