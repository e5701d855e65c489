"""What the lane writes to the ledger about a measurement, and what it reads back from it."""

from __future__ import annotations

from typing import Any

from kiosk.ledger import Ledger
from kiosk.measurement import Measurement
from kiosk.screening import Rules


def measurement_detail(
    measurement: Measurement, rules: Rules, *, store_temperatures: bool
) -> dict[str, Any]:
    """What a record keeps of a measurement: every sample, the spread, the rules in force
    (without the temperatures when ``kiosk.store_temperatures`` is off)."""
    decision = measurement.decision
    detail: dict[str, Any] = {
        "samples": [[r.object_c, r.ambient_c] for r in measurement.samples],
        "raw": [[r.object_raw, r.ambient_raw] for r in measurement.samples],
        "spread_c": decision.spread_c,
        "rules": {
            "site": rules.site,
            "model": rules.model,
            "site_compensation_c": rules.site_compensation_c,
            "site_offset_c": rules.site_offset_c,
            "ambient_coeff": rules.ambient_coeff,
            "reference_ambient_c": rules.reference_ambient_c,
            "plausible_c": [rules.plausible_min_c, rules.plausible_max_c],
            "max_spread_c": rules.max_spread_c,
        },
    }
    if measurement.error:
        detail["error"] = measurement.error
    if not store_temperatures:
        # Pass/fail only: the verdict and the threshold are kept, no temperature at all.
        detail = {k: v for k, v in detail.items() if k not in ("samples", "raw", "spread_c")}
    return detail


def last_undecided_block(ledger: Ledger) -> dict[str, Any] | None:
    """The latest fever block no guard has decided on (a kiosk restart keeps waiting for it)."""
    row = (
        ledger.connection()
        .execute(
            "SELECT * FROM events e WHERE e.kind = 'screening' AND e.verdict = 'blocked'"
            " AND e.seq = (SELECT max(seq) FROM events WHERE kind = 'screening')"
            " AND NOT EXISTS (SELECT 1 FROM events o WHERE o.links_to = e.id"
            "                 AND o.kind IN ('override', 'screening'))"
        )
        .fetchone()
    )
    return None if row is None else dict(row)
