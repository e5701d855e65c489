"""What the sync client needs from the kiosk's ledger: the outbox of records not yet at the hub.

The kiosk's ``Ledger`` implements it and owns every SQL statement on its tables; the client only
calls these methods, so ``sync/`` never reads the kiosk's schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class Outbox(Protocol):
    @property
    def epoch(self) -> str:
        """The ledger's epoch: a new database is a new epoch (docs/sync-protocol.md)."""
        ...

    def unsent_batch(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` unsent records as wire records (``sync.contract.WIRE_FIELDS``): fever,
        alarm and fault events first, then the oldest."""
        ...

    def mark_sent(self, ids: Sequence[str], when: str) -> None:
        """The hub holds these records (from its answer)."""
        ...

    def sent_ids(self) -> list[str]:
        """The ids marked sent, oldest first."""
        ...

    def mark_unsent(self, ids: Sequence[str]) -> None:
        """The hub lost these (restored from an older backup): send them again."""
        ...

    def queue(self) -> tuple[int, str | None]:
        """How many records are unsent, and the wall time of the oldest."""
        ...

    def load_sync_state(self) -> dict[str, Any]:
        """What the client saved last (roster cursor, last success …)."""
        ...

    def save_sync_state(self, state: Mapping[str, Any]) -> None: ...
