"""Command-line value types shared by the ``kiosk`` and ``hub`` commands."""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteRange(click.FloatRange):
    """A number in a range, never NaN or infinity (click's FloatRange lets ``nan`` through:
    every comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} 不是有效的数 is not a finite number", param, ctx)
        return number
