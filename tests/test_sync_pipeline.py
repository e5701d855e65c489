"""While a backlog drains, the kiosk reads and encodes the next batch while the hub works on the
current one, one request still in flight; what the hub did not acknowledge goes again."""

from __future__ import annotations

import threading

import pytest

from sync.client import HubError
from tests.sync_fixtures import drain, enrolled_client, ledger_ids, make_ledger


class WatchedOutbox:
    """The ledger, noting for each batch read whether a request was at the hub meanwhile."""

    def __init__(self, ledger) -> None:
        self.ledger = ledger
        self.at_hub = threading.Event()
        self.read_started = threading.Event()
        self.reads_while_at_hub: list[bool] = []

    def __getattr__(self, name: str):
        return getattr(self.ledger, name)

    def unsent_batch(self, limit: int):
        # A request just handed to the sending thread may take a moment to reach the hub.
        self.reads_while_at_hub.append(self.at_hub.wait(0.5))
        self.read_started.set()
        return self.ledger.unsent_batch(limit)


def test_the_next_batch_is_read_while_the_hub_works_on_this_one(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=13)
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.outbox = outbox = WatchedOutbox(ledger)
    send = client._request
    requests_at_once = []

    def watched_request(method, path, **kwargs):
        if path != "/events":
            return send(method, path, **kwargs)
        requests_at_once.append(outbox.at_hub.is_set())
        outbox.read_started.clear()
        outbox.at_hub.set()
        try:
            # The request waits (up to 5 s) for the kiosk to begin reading the next batch: a
            # client that reads only after the answer fails here instead of passing by luck.
            outbox.read_started.wait(5)
            return send(method, path, **kwargs)
        finally:
            outbox.at_hub.clear()

    client._request = watched_request
    drain(client)
    # The first batch is read before anything is sent; the second and the third while the
    # one before them is at the hub; the last has nothing behind it to read.
    assert outbox.reads_while_at_hub[:3] == [False, True, True], outbox.reads_while_at_hub
    assert requests_at_once == [False, False, False]  # never two requests at once
    assert hub.store.event_ids() == ledger_ids(ledger) and ledger.queue()[0] == 0


def test_a_record_the_hub_did_not_answer_for_is_sent_again_not_skipped(hub, tmp_path):
    """The batch read ahead leaves out the records at the hub; one of them left without an
    answer is unsent still, and must not be passed over by the batch after."""
    ledger = make_ledger(tmp_path / "k.sqlite3", records=12)
    hub.faults.plan = ["drop_last_result"]
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.push_batch()
    assert ledger.queue()[0] == 8  # four acknowledged, one still waiting for its answer
    drain(client)
    assert hub.store.event_ids() == ledger_ids(ledger) and ledger.queue() == (0, None)
    assert len(hub.store.event_ids()) == 12


def test_a_failed_request_sends_the_same_batch_again_and_nothing_read_ahead(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=12)
    hub.faults.plan = [None, "503"]  # the first batch is taken, the second refused
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.push_batch()
    first = set(ledger.sent_ids())
    with pytest.raises(HubError, match="503"):
        client.push_batch()
    assert set(ledger.sent_ids()) == first and client._next is None
    drain(client)
    assert hub.store.event_ids() == ledger_ids(ledger) and ledger.queue() == (0, None)
