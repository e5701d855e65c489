"""While a backlog drains, the kiosk reads and encodes the next batch while the hub works on the
current one, one request still in flight; what the hub did not acknowledge goes again, first,
and so does a record written meanwhile (a fever goes ahead of what was read)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from sync.client import HubError
from tests.sync_fixtures import add_records, drain, enrolled_client, ledger_ids, make_ledger


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
        if self.reads_while_at_hub:  # not the first: a request was just handed over
            self.reads_while_at_hub.append(self.at_hub.wait(5))
        else:
            self.reads_while_at_hub.append(self.at_hub.is_set())
        self.read_started.set()
        return self.ledger.unsent_batch(limit)


def watch_requests(client, outbox: WatchedOutbox, during=None) -> list[bool]:
    """Each batch's request waits (up to 5 s) for the kiosk to begin reading the next batch: a
    client that reads only after the answer fails instead of passing by luck. ``during`` runs
    at the hub's side of the first request, after the read ahead began. Returns, per request,
    whether another was at the hub when it started."""
    send = client._request
    at_once: list[bool] = []

    def watched(method, path, **kwargs):
        if path != "/events":
            return send(method, path, **kwargs)
        at_once.append(outbox.at_hub.is_set())
        outbox.read_started.clear()
        outbox.at_hub.set()
        try:
            outbox.read_started.wait(5)
            if during is not None and len(at_once) == 1:
                during()
            return send(method, path, **kwargs)
        finally:
            outbox.at_hub.clear()

    client._request = watched
    return at_once


def test_the_next_batch_is_read_while_the_hub_works_on_this_one(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=13)
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.outbox = outbox = WatchedOutbox(ledger)
    at_once = watch_requests(client, outbox)
    assert [client.push_batch() for _ in range(3)] == [True, True, False]
    # The first batch is read before anything is sent; the second and the third while the
    # one before them is at the hub; the last has nothing behind it to read.
    assert outbox.reads_while_at_hub == [False, True, True]
    assert at_once == [False, False, False]  # never two requests at once
    assert hub.store.event_ids() == ledger_ids(ledger) and ledger.queue()[0] == 0


def test_a_record_the_hub_did_not_answer_for_goes_in_the_next_batch(hub, tmp_path):
    """The batch read ahead leaves out the records at the hub; one of them left without an
    answer must go next, not after the batch read ahead without it."""
    ledger = make_ledger(tmp_path / "k.sqlite3", records=12)
    hub.faults.plan = ["drop_last_result"]
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.push_batch()
    [unanswered] = [r["id"] for r in ledger.unsent_batch(1)]  # the first batch's last record
    assert ledger.queue()[0] == 8  # four acknowledged, one still waiting for its answer
    client.push_batch()
    assert unanswered not in {r["id"] for r in ledger.unsent_batch(100)}
    drain(client)
    assert hub.store.event_ids() == ledger_ids(ledger) and ledger.queue() == (0, None)
    assert len(hub.store.event_ids()) == 12


def test_a_fever_written_while_a_batch_is_at_the_hub_goes_in_the_next(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=15)
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.outbox = outbox = WatchedOutbox(ledger)
    fever: list[str] = []

    def a_fever_at_the_gate() -> None:  # as the gate does: the record, then the wake
        fever.extend(add_records(ledger, 1, verdict="blocked"))
        client.wake.set()

    watch_requests(client, outbox, during=a_fever_at_the_gate)
    client.push_batch()
    assert client._next is None  # what was read ahead is read again
    client.push_batch()
    assert fever[0] not in {r["id"] for r in ledger.unsent_batch(100)}


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


class FailingOutbox:
    """The ledger, whose reads and marks fail as a kiosk's disk can."""

    def __init__(self, ledger, fail: dict[str, int]) -> None:
        self.ledger = ledger
        self.fail = fail  # method -> at which call (1-based) it fails once
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str):
        method = getattr(self.ledger, name)
        if name not in self.fail:
            return method

        def failing(*args, **kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.calls[name] == self.fail[name]:
                raise sqlite3.OperationalError("database or disk is full")
            return method(*args, **kwargs)

        return failing


def test_a_failed_read_ahead_still_marks_the_batch_at_the_hub(hub, tmp_path):
    ledger = make_ledger(tmp_path / "k.sqlite3", records=12)
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.outbox = FailingOutbox(ledger, {"unsent_batch": 2})  # the read ahead
    assert client.push_batch() is True
    assert ledger.queue()[0] == 7 and client._next is None
    drain(client)
    assert hub.store.event_ids() == ledger_ids(ledger) and ledger.queue() == (0, None)


def test_the_sync_thread_outlives_a_ledger_error_and_loses_nothing(hub, tmp_path):
    """A full disk at the mark (after the hub stored the batch) ended the sync thread: the
    kiosk never synced again until restarted. Now the round fails, is said, and is retried."""
    ledger = make_ledger(tmp_path / "k.sqlite3", records=12)
    client = enrolled_client(hub.start(), ledger, batch_size=5)
    client.outbox = FailingOutbox(ledger, {"mark_sent": 1})
    stop, errors = threading.Event(), []

    def after_cycle() -> None:
        errors.append(client.state.last_error)
        client.wake.set()  # no backoff wait in a test
        if ledger.queue()[0] == 0 and client.state.last_error is None:
            stop.set()

    worker = threading.Thread(target=client.run, args=(stop, after_cycle), daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and stop.is_set()
    assert errors[0] and "本机台账读写出错" in errors[0] and "disk is full" in errors[0]
    assert hub.store.event_ids() == ledger_ids(ledger) and len(ledger_ids(ledger)) == 12
