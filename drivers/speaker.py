"""The speaker: plays a WAV file on the Pi's audio output through ALSA (``aplay``), or records
what it was asked to play (tests, and a machine with no sound device).

Hardware at the edge: it knows files and a device, not prompts or screens (``kiosk/voice.py``).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)


class Speaker(Protocol):
    def play(self, wav: Path) -> None: ...

    def close(self) -> None: ...


def has_sound_card(cards: Path = Path("/proc/asound/cards")) -> bool:
    """Does ALSA see a sound card (``/proc/asound/cards`` lists one)?"""
    try:
        text = cards.read_text()
    except OSError:
        return False
    return bool(text.strip()) and "no soundcards" not in text


class AlsaSpeaker:
    """``aplay -q -D <device> <file>`` in the background; a new prompt cuts the one playing (the
    screen has moved on). A missing ``aplay`` or a device that fails is logged once, not raised:
    a voice is a help, never a reason for the gate to stop."""

    def __init__(self, device: str = "default", aplay: str | None = None) -> None:
        self.device = device
        self.aplay = aplay or shutil.which("aplay")
        self._playing: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._said_broken = False

    def play(self, wav: Path) -> None:
        if self.aplay is None:
            self._broken("aplay not found (apt-get install alsa-utils)")
            return
        with self._lock:
            self._stop()
            try:
                self._playing = subprocess.Popen(
                    [self.aplay, "-q", "-D", self.device, str(wav)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            except OSError as exc:
                self._broken(str(exc))

    def _stop(self) -> None:
        playing = self._playing
        if playing is not None and playing.poll() is None:
            playing.terminate()
            playing.wait(2)
        elif playing is not None and playing.returncode and playing.stderr is not None:
            lines = playing.stderr.read().decode(errors="replace").strip().splitlines()
            self._broken(lines[-1] if lines else f"aplay exited with {playing.returncode}")
        self._playing = None

    def _broken(self, why: str) -> None:
        if not self._said_broken:
            log.warning("语音提示无法播放（voice prompts cannot play）: %s", why)
            self._said_broken = True

    def close(self) -> None:
        with self._lock:
            self._stop()


@dataclass
class RecordingSpeaker:
    """Plays nothing; keeps what it was asked to play, with when (for tests and the demo)."""

    played: list[tuple[float, Path]] = field(default_factory=list)
    closed: bool = False

    def play(self, wav: Path) -> None:
        self.played.append((time.monotonic(), wav))

    @property
    def names(self) -> list[str]:
        return [path.stem for _, path in self.played]

    def close(self) -> None:
        self.closed = True
