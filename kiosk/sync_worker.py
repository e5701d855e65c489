"""Runs the sync client beside the gate when the kiosk has a hub and a token."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kiosk.enrolment import read_token
from kiosk.gate import Gate
from kiosk.ledger import Ledger
from kiosk.retention import purge
from kiosk.roster import apply_changes, hub_settings
from sync.client import SyncClient
from sync.wire_policy import refused

log = logging.getLogger(__name__)


class SyncWorker:
    """A daemon thread that syncs ``ledger`` (the outbox) with the hub, wakes on every record the
    gate commits, applies the roster and the hub's settings, and runs retention hourly. Wired by
    the composition root (``kiosk.server``); stops with ``stop()``."""

    def __init__(self, gate: Gate, ledger: Ledger, hub_url: str, token: str) -> None:
        config = gate.config
        self.gate = gate
        self.ledger = ledger
        self.token = token
        self.stopping = threading.Event()
        self.client = SyncClient(
            ledger,
            hub_url,
            token,
            ca_file=config.sync.ca_file,
            batch_size=config.sync.batch_size,
            idle_interval_s=config.sync.interval_s,
            on_roster=self._apply_roster,
        )
        gate.set_sync_status(lambda: self.client.state)
        gate.add_listener(lambda record: self.client.wake.set())
        gate.apply_settings(hub_settings(ledger))
        self._purged_at = float("-inf")
        self.thread = threading.Thread(
            target=self.client.run,
            args=(self.stopping, self._after_cycle),
            name="sync",
            daemon=True,
        )

    def _apply_roster(self, changes: list[dict[str, Any]]) -> None:
        self.gate.apply_settings(apply_changes(self.ledger, changes))
        for change in changes:
            if change.get("kind") == "block_clearance" and isinstance(change.get("data"), dict):
                self.gate.hub_cleared(str(change.get("key")), change["data"])

    def _after_cycle(self) -> None:
        """A kiosk the hub stopped takes the token of a new ``kiosk enrol`` without a restart;
        once an hour, after a successful round, the retention period is applied."""
        if self.client.state.revoked:
            token = read_token(self.gate.config.data_dir)
            if token is not None and token != self.token:
                log.info("sync: enrolled again; sending the new token")
                self.token = token
                self.client.use_token(token)
                self.client.wake.set()
            return
        if self.client.state.last_error is not None or time.monotonic() - self._purged_at < 3600:
            return
        self._purged_at = time.monotonic()
        result = purge(self.ledger, self.gate.config.kiosk.retention_days)
        if result.purged:
            log.info(
                "retention: %d events deleted (older than %s, held by the hub)",
                result.purged,
                result.cutoff[:10],
            )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.client.wake.set()
        self.thread.join(40)


def maybe_sync_worker(gate: Gate, ledger: Ledger) -> SyncWorker | None:
    """The sync worker when a hub is configured and the kiosk is enrolled, else None."""
    config = gate.config
    hub_url = config.sync.hub_url
    if hub_url is None:
        return None
    refusal = refused(hub_url, config.sync.allow_plain_http)
    if refusal is not None:
        log.error("sync not started: %s", refusal)
        return None
    token = read_token(config.data_dir)
    if token is None:
        log.error("sync.hub_url is set but this kiosk is not enrolled: run 'kiosk enrol --code …'")
        return None
    return SyncWorker(gate, ledger, hub_url, token)
