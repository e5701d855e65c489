"""Child process for the SIGKILL sync test: runs the real sync client until killed."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from kiosk.ledger import Ledger
from sync.client import SyncClient


def main() -> None:
    ledger_path, kiosk_id, hub_url, token = sys.argv[1:5]
    ledger = Ledger(Path(ledger_path), kiosk_id)
    client = SyncClient(
        ledger, hub_url, token, batch_size=50, idle_interval_s=0.5, timeout=(2.0, 5.0)
    )
    print("ready", flush=True)
    client.run(threading.Event())


if __name__ == "__main__":
    main()
