"""What the kiosk knows about time when it writes a record.

A Pi has no real-time clock: until NTP answers, the wall clock may be days off. Every record
carries the wall time, whether the kernel says the clock is synchronised, the boot id and the
time since boot, so the hub can place it even when the wall time was wrong.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

STA_UNSYNC = 0x0040
BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True)
class ClockFacts:
    wall_time: str  # ISO 8601, UTC, microseconds
    clock_synced: bool
    boot_id: str
    boottime_ns: int


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h> (Linux, 64-bit and 32-bit alike use C longs here).
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("padding", ctypes.c_int * 11),
    ]


@cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def kernel_clock_synced() -> bool:
    """True when the kernel's NTP state says synchronised (what ``timedatectl`` reports)."""
    libc = _libc()
    if libc is None:
        return False
    timex = _Timex()
    state = libc.adjtimex(ctypes.byref(timex))
    # TIME_ERROR (5) means unsynchronised; so does the STA_UNSYNC status bit.
    return state not in (-1, 5) and not timex.status & STA_UNSYNC


@cache
def boot_id() -> str:
    try:
        return BOOT_ID_PATH.read_text().strip()
    except OSError:
        return "unknown"


def now() -> ClockFacts:
    return ClockFacts(
        wall_time=datetime.now(UTC).isoformat(timespec="microseconds"),
        clock_synced=kernel_clock_synced(),
        boot_id=boot_id(),
        boottime_ns=time.clock_gettime_ns(time.CLOCK_BOOTTIME),
    )
