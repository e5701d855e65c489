"""Runs the sync client beside the gate when the kiosk has a hub and a token."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from kiosk.gate import Gate
from kiosk.retention import purge
from kiosk.roster import apply_changes, hub_settings
from sync.client import SyncClient

log = logging.getLogger(__name__)
TOKEN_FILE = "hub_token"


def token_path(data_dir: Path) -> Path:
    return data_dir / TOKEN_FILE


def save_token(data_dir: Path, token: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = token_path(data_dir)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token)
        fh.flush()
        os.fsync(fh.fileno())


class SyncWorker:
    """A daemon thread with its own ledger connection; stops with ``stop()``."""

    def __init__(self, gate: Gate) -> None:
        config = gate.config
        self.gate = gate
        self.stopping = threading.Event()
        token = token_path(config.data_dir).read_text().strip()
        self.client = SyncClient(
            gate.ledger,
            config.sync.hub_url,
            token,
            ca_file=config.sync.ca_file,
            batch_size=config.sync.batch_size,
            idle_interval_s=config.sync.interval_s,
            on_roster=self._apply_roster,
        )
        gate.sync_state = self.client.state
        gate.sync_wake = self.client.wake
        gate.apply_settings(hub_settings(gate.ledger))
        self._purged_at = float("-inf")
        self.thread = threading.Thread(
            target=self.client.run,
            args=(self.stopping, self._after_cycle),
            name="sync",
            daemon=True,
        )

    def _apply_roster(self, changes: list[dict]) -> None:
        self.gate.apply_settings(apply_changes(self.gate.ledger, changes))

    def _after_cycle(self) -> None:
        """Once an hour, after a successful round, apply the retention period."""
        if self.client.state.last_error is not None or time.monotonic() - self._purged_at < 3600:
            return
        self._purged_at = time.monotonic()
        result = purge(self.gate.ledger, self.gate.config.kiosk.retention_days)
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


def maybe_sync_worker(gate: Gate) -> SyncWorker | None:
    config = gate.config
    if config.sync.hub_url is None:
        return None
    if not token_path(config.data_dir).exists():
        log.error("sync.hub_url is set but this kiosk is not enrolled: run 'kiosk enrol --code …'")
        return None
    return SyncWorker(gate)
