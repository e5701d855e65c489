"""Wrong guard PINs in the ledger: one record per burst, never the digits.

A burst is the run of wrong PINs for one guard between two right ones (the count the back-off
already keeps, in ``guards.failures``). It is recorded, as a ``guard_pin`` event:

- ``locked`` when the run reaches ``guard.max_pin_failures`` (the back-off starts), and again
  each time it doubles (10, 20, 40 … with the default 5): a stranger typing all day leaves about
  ten records, not three thousand;
- ``wrong`` when the right PIN ends a run with tries not yet recorded (a guard's typo, or the
  rest of a burst after its last ``locked`` record).

Each record carries the guard's id and name, how many wrong tries it covers, the run's length
so far, and the local-clock times of its first and last wrong try. A PIN for a guard id the
kiosk does not know is not recorded: there is no one to attribute it to, and the id comes from
the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KIND = "guard_pin"


@dataclass(frozen=True)
class PinBurst:
    """Wrong PINs to record (see the module's text)."""

    verdict: str  # "locked" or "wrong"
    guard_id: str
    name: str
    failures: int  # wrong tries this record covers
    in_a_row: int  # the run's length when recorded
    first_at: str | None  # UTC ISO time of the run's first wrong try
    last_at: str | None  # UTC ISO time of the latest wrong try

    def detail(self, where: str) -> dict[str, Any]:
        """The record's detail: who, how many, when, and where the PIN was typed."""
        return {
            "guard_id": self.guard_id,
            "name": self.name,
            "failures": self.failures,
            "in_a_row": self.in_a_row,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "where": where,
        }


def locked_milestone(in_a_row: int, max_failures: int) -> bool:
    """Is this run length one that is recorded as ``locked``: the threshold, then each
    doubling?"""
    if max_failures < 1 or in_a_row < max_failures or in_a_row % max_failures:
        return False
    multiple = in_a_row // max_failures
    return multiple & (multiple - 1) == 0
