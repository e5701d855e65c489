"""Is the thermometer still measuring? Pure logic over the stream of raw reads; see
docs/screening.md ("A chip that stops measuring").

A live MLX90614 converts continuously: its object word (0.02 K per LSB) carries several LSB of
noise and is refreshed many times a second, so two reads a few tenths of a second apart almost
never return the same word for long. A chip that froze (a latched bus answering the last word, a
brown-out, an IIR filter stuck after an EMI hit) keeps returning one word. The die (ambient)
temperature sits in a metal can with thermal mass: it cannot leave the band the chip works in
nor jump by degrees between two reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers import Reading

FROZEN = "frozen"  # the object word has not changed for frozen_after_s
AMBIENT_RANGE = "ambient_range"  # the die temperature is outside any room the kiosk stands in
AMBIENT_JUMP = "ambient_jump"  # the die temperature moved faster than a metal can can

PROBLEMS_ZH = {
    FROZEN: "测温探头读数冻结（芯片不再测量）",
    AMBIENT_RANGE: "探头环境温度超出合理范围",
    AMBIENT_JUMP: "探头环境温度突变（读数不可信）",
}


@dataclass(frozen=True)
class LivenessRules:
    frozen_after_s: float = 10.0
    ambient_min_c: float = -30.0
    ambient_max_c: float = 70.0
    ambient_jump_c: float = 2.0  # allowed between two reads, plus the rate below
    ambient_rate_c_per_s: float = 0.5
    recover_changes: int = 3  # fresh object words in a row before a frozen chip counts as live

    @classmethod
    def from_config(cls, config: object) -> LivenessRules:
        return cls(frozen_after_s=config.sensor.frozen_after_s)  # type: ignore[attr-defined]


class Liveness:
    """Fed every read the kiosk makes; says whether the chip is live and since when."""

    def __init__(self, rules: LivenessRules, now: float) -> None:
        self.rules = rules
        self.problem: str | None = None
        self.last_change_at = now  # the last read whose object word differed from the one before
        self._change_before_last_at = now  # the change before that one
        self._still_since = now  # the object word has not moved since (or the chip came back)
        self.ok_at: float | None = None  # the last read taken from a live chip
        self._last: Reading | None = None
        self._last_at = now
        self._fresh = 0  # changes seen in a row since a problem

    def observe(self, reading: Reading, now: float) -> str | None:
        """Take one read; return the problem it shows (or None when the chip is live)."""
        last, last_at = self._last, self._last_at
        self._last, self._last_at = reading, now
        rules = self.rules
        if not rules.ambient_min_c <= reading.ambient_c <= rules.ambient_max_c:
            return self._flag(AMBIENT_RANGE)
        if last is not None:
            allowed = rules.ambient_jump_c + rules.ambient_rate_c_per_s * max(0.0, now - last_at)
            if abs(reading.ambient_c - last.ambient_c) > allowed:
                return self._flag(AMBIENT_JUMP)
        changed = last is not None and reading.object_raw != last.object_raw
        if changed:
            self._change_before_last_at = self.last_change_at
            self.last_change_at = self._still_since = now
        if self.problem is not None:
            self._fresh = self._fresh + 1 if changed else 0
            if self._fresh < rules.recover_changes:
                return self.problem
            self.problem = None
        elif now - self._still_since >= rules.frozen_after_s:
            return self._flag(FROZEN)
        self.ok_at = now
        return None

    def changed_since(self, moment: float) -> bool:
        """Has the chip converted a new object word after ``moment``? A judged measurement needs
        this. The chip refreshes its RAM between our reads, so the first changed word read after
        ``moment`` may have been converted before it (and the chip may have frozen right after);
        a second change read after ``moment`` was converted after the first was read: after it."""
        return self.problem is None and self._change_before_last_at > moment

    def reset(self, now: float) -> None:
        """The chip could not be read at all (bus error): when it answers again it gets the full
        ``frozen_after_s`` to show a fresh word, and only a fresh word counts as one."""
        self._last = None
        self._last_at = now
        self._still_since = now

    def _flag(self, problem: str) -> str:
        if self.problem is None:
            self.problem = problem
        self._fresh = 0
        return self.problem
