"""A simulated MLX90614: a fake SMBus that answers register reads exactly as the chip does.

The real :class:`drivers.mlx90614.MLX90614` driver runs on it unchanged, so the demo and the tests
exercise the code a Raspberry Pi runs. The scene in front of the sensor (:class:`Scene`) can be
scripted, and bus or chip faults can be injected (:meth:`SimulatedMLX90614.inject`).
"""

from __future__ import annotations

import ctypes
import errno
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from drivers.mlx90614 import (
    DEFAULT_ADDRESS,
    EEPROM_BASE,
    EEPROM_CONFIG_1,
    EEPROM_EMISSIVITY,
    EEPROM_SMBUS_ADDRESS,
    ERROR_FLAG,
    RAM_AMBIENT,
    RAM_OBJECT_1,
    RAM_OBJECT_2,
    celsius_to_raw,
)
from drivers.smbus_pec import read_word_pec, write_word_pec

I2C_M_RD = 0x0001
EEPROM_WRITE_TIME_S = 0.005

Fault = Literal["nack", "eio", "bad_pec", "error_flag", "stuck", "unplugged"]
FAULTS: tuple[Fault, ...] = ("nack", "eio", "bad_pec", "error_flag", "stuck", "unplugged")

# Forehead skin reads this much below core temperature at a comfortable ambient. The kiosk's
# default forehead compensation uses the same figure, so a simulated 36.6 °C person shows 36.6.
DEFAULT_SKIN_GAP_C = 2.6


@dataclass
class _Subject:
    core_c: float
    skin_gap_c: float
    arrived_at: float
    start_c: float  # what the chip saw as they arrived: its filter's output is continuous
    left_at: float | None = None


@dataclass
class Scene:
    """What stands in front of the sensor, as a function of time.

    Nobody there: the sensor sees the background at ambient temperature. A person arriving: the
    object temperature rises towards their skin temperature with the chip's filter time constant
    ``tau_s``, and falls back the same way when they leave.
    """

    ambient_c: float = 24.0
    drift_c_per_min: float = 0.0
    noise_c: float = 0.03
    tau_s: float = 0.05
    clock: Callable[[], float] = time.monotonic
    seed: int = 0
    _subject: _Subject | None = None
    _ambient_since: float = field(default=0.0)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._random.seed(self.seed)
        self._ambient_since = self.clock()

    def person(self, core_c: float, skin_gap_c: float = DEFAULT_SKIN_GAP_C) -> None:
        """A person with core temperature ``core_c`` steps up now (replacing whoever stood
        there: the chip's reading moves from what it saw to the new skin, with no dip to the
        background, as when the next person in a queue steps straight in)."""
        with self._lock:
            now = self.clock()
            start = self._level(now)
            self._subject = _Subject(core_c, skin_gap_c, now, start)

    def leave(self) -> None:
        """The person in front walks away now."""
        with self._lock:
            if self._subject is not None and self._subject.left_at is None:
                self._subject.left_at = self.clock()

    def nobody(self) -> None:
        """Reset to an empty scene at once (no fading out)."""
        with self._lock:
            self._subject = None

    def set_ambient(self, ambient_c: float, drift_c_per_min: float = 0.0) -> None:
        with self._lock:
            self.ambient_c = ambient_c
            self.drift_c_per_min = drift_c_per_min
            self._ambient_since = self.clock()

    @property
    def occupied(self) -> bool:
        with self._lock:
            return self._subject is not None and self._subject.left_at is None

    def temperatures(self) -> tuple[float, float]:
        """(object °C, ambient °C) as the chip would measure them now."""
        with self._lock:
            now = self.clock()
            noise = self._random.uniform(-self.noise_c, self.noise_c) if self.noise_c else 0.0
            return self._level(now) + noise, self._ambient_now(now)

    def _level(self, now: float) -> float:
        """The object temperature without noise: the chip's filter following the scene."""
        ambient = self._ambient_now(now)
        subject = self._subject
        if subject is None:
            return ambient
        skin = subject.core_c - subject.skin_gap_c
        start = subject.start_c

        def approach(since: float, until: float) -> float:
            return start + (skin - start) * (1 - math.exp(-(until - since) / self.tau_s))

        if subject.left_at is None:
            return approach(subject.arrived_at, now)
        at_leaving = approach(subject.arrived_at, subject.left_at)
        return ambient + (at_leaving - ambient) * math.exp(-(now - subject.left_at) / self.tau_s)

    def _ambient_now(self, now: float) -> float:
        return self.ambient_c + self.drift_c_per_min * (now - self._ambient_since) / 60.0


@dataclass(frozen=True)
class BusCall:
    """One ``i2c_rdwr`` as the simulated chip saw it."""

    at: float
    address: int
    written: bytes
    read_length: int
    result: str


class SimulatedMLX90614:
    """A fake SMBus with one MLX90614 on it, at ``address``.

    It implements ``i2c_rdwr`` (the only call the real driver makes) with the chip's Read Word and
    Write Word transactions, PEC included, and its EEPROM rules (erase before write, busy while
    writing). Every transaction is recorded in :attr:`calls`.
    """

    def __init__(
        self,
        scene: Scene | None = None,
        address: int = DEFAULT_ADDRESS,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scene = scene if scene is not None else Scene(clock=clock)
        self.address = address
        self.clock = clock
        self.calls: list[BusCall] = []
        self.eeprom: dict[int, int] = {
            EEPROM_EMISSIVITY: 0xFFFF,
            EEPROM_CONFIG_1: 0x9FB4,
            EEPROM_SMBUS_ADDRESS: 0xBE00 | address,
        }
        self._faults: dict[Fault, int | None] = {}
        self._stuck_words: dict[int, int] = {}
        self._busy_until = 0.0
        self._lock = threading.Lock()
        self.closed = False

    # -- fault injection ---------------------------------------------------------------------

    def inject(self, fault: Fault, count: int | None = None) -> None:
        """Inject ``fault`` for the next ``count`` transactions, or until cleared if ``None``."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {', '.join(FAULTS)}")
        with self._lock:
            self._faults[fault] = count
            if fault == "stuck":
                # The chip stops updating its RAM now: it keeps what it holds at this moment,
                # not what the scene shows at the next read (which may be after the test, or the
                # world, has moved on).
                object_c, ambient_c = self.scene.temperatures()
                word = celsius_to_raw(object_c)
                self._stuck_words = {
                    RAM_OBJECT_1: word,
                    RAM_OBJECT_2: word,
                    RAM_AMBIENT: celsius_to_raw(ambient_c),
                }

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._stuck_words.clear()

    @property
    def active_faults(self) -> list[str]:
        with self._lock:
            return sorted(self._faults)

    def _take_fault(self, fault: Fault) -> bool:
        if fault not in self._faults:
            return False
        remaining = self._faults[fault]
        if remaining is not None:
            if remaining <= 1:
                del self._faults[fault]
            else:
                self._faults[fault] = remaining - 1
        return True

    # -- the bus -----------------------------------------------------------------------------

    @property
    def register_writes(self) -> list[BusCall]:
        """Transactions that wrote a register (Write Word), as opposed to reads."""
        return [call for call in self.calls if len(call.written) > 1]

    def i2c_rdwr(self, *messages: Any) -> None:
        with self._lock:
            written = b"".join(bytes(m) for m in messages if not m.flags & I2C_M_RD)
            reads = [m for m in messages if m.flags & I2C_M_RD]
            read_length = sum(m.len for m in reads)
            address = messages[0].addr if messages else -1
            result = "?"
            try:
                result = self._transaction(messages, written, reads)
            except OSError as exc:
                result = errno.errorcode.get(exc.errno or 0, str(exc))
                raise
            finally:
                self.calls.append(BusCall(self.clock(), address, written, read_length, result))

    def _transaction(self, messages: tuple[Any, ...], written: bytes, reads: list[Any]) -> str:
        if self.closed:
            raise OSError(errno.EBADF, "bus closed")
        if any(m.addr != self.address for m in messages) or self._take_fault("unplugged"):
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        if self.clock() < self._busy_until or self._take_fault("nack"):
            raise OSError(errno.EREMOTEIO, "Remote I/O error")
        if self._take_fault("eio"):
            raise OSError(errno.EIO, "Input/output error")
        if len(messages) == 2 and len(written) == 1 and len(reads) == 1:
            self._read_word(written[0], reads[0])
            return "read"
        if len(messages) == 1 and not reads and len(written) == 4:
            self._write_word(*written)
            return "write"
        # Anything else (a block read, a quick command, a read without a command) is not a
        # transaction the chip supports; on the wire it shows up as a NACK.
        raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def _read_word(self, command: int, message: Any) -> None:
        word = self._register(command)
        if command in (RAM_OBJECT_1, RAM_OBJECT_2) and self._take_fault("error_flag"):
            word |= ERROR_FLAG
        lsb, msb = word & 0xFF, word >> 8
        pec = read_word_pec(self.address, command, lsb, msb)
        if self._take_fault("bad_pec"):
            pec ^= 0x5A
        data = bytes([lsb, msb, pec])[: message.len]
        ctypes.memmove(message.buf, data, len(data))

    def _register(self, command: int) -> int:
        if command & 0xE0 == EEPROM_BASE:
            return self.eeprom.get(command, 0x0000)
        if command in (RAM_OBJECT_1, RAM_OBJECT_2, RAM_AMBIENT):
            stuck = "stuck" in self._faults
            if stuck and command in self._stuck_words:
                return self._stuck_words[command]
            object_c, ambient_c = self.scene.temperatures()
            word = celsius_to_raw(ambient_c if command == RAM_AMBIENT else object_c)
            if stuck:
                self._stuck_words[command] = word
            return word
        return 0x0000

    def _write_word(self, command: int, lsb: int, msb: int, pec: int) -> None:
        if pec != write_word_pec(self.address, command, lsb, msb):
            raise OSError(errno.EREMOTEIO, "Remote I/O error")  # the chip NACKs a bad PEC
        if command & 0xE0 != EEPROM_BASE:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")  # RAM is read-only
        value = lsb | (msb << 8)
        old = self.eeprom.get(command, 0x0000)
        # Writing 0 erases a cell; a write only sets bits, so a write over a cell that was not
        # erased first leaves a mix of the old and the new value, as on the chip.
        self.eeprom[command] = 0 if value == 0 else old | value
        self._busy_until = self.clock() + EEPROM_WRITE_TIME_S

    def close(self) -> None:
        self.closed = True
