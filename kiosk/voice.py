"""The spoken prompts: one Mandarin prompt for each moment of the lane a resident must act on,
rendered offline at install (Debian's ``espeak-ng``, its Mandarin voice ``cmn``) and replaceable
by the compound's own recordings dropped in a folder (docs/voice.md).

:class:`Voice` follows the screen the gate publishes and plays each moment's prompt once, at the
set volume, except in quiet hours. The buzzer's patterns are not touched: the voice is on top.
"""

from __future__ import annotations

import array
import logging
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from drivers.speaker import Speaker
from kiosk.config import Config
from kiosk.screen_state import ScreenState

log = logging.getLogger(__name__)

# Prompt name → what it says. The names are the file names of the recordings (<name>.wav).
PROMPTS: dict[str, str] = {
    "ready_pass": "请扫码或上前测温",
    "ready": "请上前测温",
    "admitted": "体温正常，请通行",
    "blocked": "体温异常，请在旁等候",
    "retry": "请重新测温",
    "fault": "设备故障，请找门卫",
    "awaiting_guard": "前一位正在处理，请稍候",
}

# The screen (kiosk/screen_state.py) → its prompt; screens not here say nothing.
SCREEN_PROMPTS: dict[str, str] = {
    "admitted": "admitted",
    "guard_admitted": "admitted",
    "blocked": "blocked",
    "retry": "retry",
    "staff_retry": "retry",
    "fault": "fault",
    "sensor_fault": "fault",
    "not_recorded": "fault",
    "awaiting_guard": "awaiting_guard",
}

DEFAULT_CUSTOM_DIR = Path("/etc/menwei/voice")
ESPEAK_VOICE = "cmn"
ESPEAK_SPEED = 180  # words a minute: clear for the elderly, and done within about 4 s


class RenderError(RuntimeError):
    """The prompts could not be rendered (the message says why and what to install)."""


def render(folder: Path, *, espeak: str | None = None) -> list[Path]:
    """Render every prompt to ``folder/<name>.wav`` with espeak-ng's Mandarin voice."""
    program = espeak or shutil.which("espeak-ng")
    if program is None:
        raise RenderError("找不到 espeak-ng：请先 apt-get install espeak-ng（no espeak-ng found）")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in PROMPTS.items():
        path = folder / f"{name}.wav"
        subprocess.run(
            [program, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_SPEED), "-w", str(path), text],
            check=True,
            capture_output=True,
        )
        written.append(path)
    return written


def prompt_for(screen: dict[str, Any], previous: str | None, identify: str) -> str | None:
    """The prompt a newly published screen plays: a verdict or a problem every time it is
    published (each person's own); the instruction only when the lane has just become free."""
    name = screen.get("screen")
    if name == "idle":
        if previous == "idle":
            return None
        return "ready" if identify == "off" else "ready_pass"
    return SCREEN_PROMPTS.get(str(name))


def quiet(hour: int, quiet_from: int, quiet_until: int) -> bool:
    """Is ``hour`` within the quiet hours [from, until), which may wrap midnight?"""
    if quiet_from == quiet_until:
        return False
    if quiet_from < quiet_until:
        return quiet_from <= hour < quiet_until
    return hour >= quiet_from or hour < quiet_until


class Voice:
    """Follows ``screen`` in a thread of its own and plays the prompts on ``speaker``."""

    def __init__(
        self,
        config: Callable[[], Config],
        screen: ScreenState,
        speaker: Speaker,
        *,
        synthetic_dir: Path,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._config = config  # the settings in force (they change with the hub's)
        self.screen = screen
        self.speaker = speaker
        self.synthetic_dir = synthetic_dir
        self._now = now
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scaled = Path(tempfile.mkdtemp(prefix="menwei-voice-"))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.speaker.close()
        shutil.rmtree(self._scaled, ignore_errors=True)

    def _run(self) -> None:
        self._render_missing()
        state = self.screen.snapshot()
        previous = state["screen"]
        while not self._stop.is_set():
            newer = self.screen.wait(state["version"], 1.0)
            if newer["version"] == state["version"]:
                continue  # nothing new within the second
            state = newer
            if state["screen"] == "stopped":
                return
            self.said(state, previous)
            previous = state["screen"]

    def _render_missing(self) -> None:
        """Prompts are rendered at install (``kiosk voice-render``); a kiosk that lacks them
        renders them once here, off the gate's path."""
        if all((self.synthetic_dir / f"{name}.wav").is_file() for name in PROMPTS):
            return
        try:
            render(self.synthetic_dir)
        except (RenderError, OSError, subprocess.CalledProcessError) as exc:
            log.warning("语音提示未生成（voice prompts not rendered）: %s", exc)

    def said(self, state: dict[str, Any], previous: str | None) -> str | None:
        """Play the prompt of ``state`` (if any and not muted); returns the prompt played."""
        config = self._config()
        prompt = prompt_for(state, previous, config.kiosk.identify)
        voice = config.voice
        if prompt is None or not voice.enabled or voice.volume == 0:
            return None
        now = self._now() if self._now else datetime.now(config.tz)
        if quiet(now.hour, voice.quiet_from_hour, voice.quiet_until_hour):
            return None
        path = self.recording(prompt, config)
        if path is None:
            return None
        self.speaker.play(self._at_volume(path, voice.volume))
        return prompt

    def recording(self, prompt: str, config: Config) -> Path | None:
        """The compound's own recording of ``prompt`` if there is one, else the synthetic."""
        custom = Path(config.voice.custom_dir) if config.voice.custom_dir else DEFAULT_CUSTOM_DIR
        for folder in (custom, self.synthetic_dir):
            path = folder / f"{prompt}.wav"
            if path.is_file():
                return path
        return None

    def _at_volume(self, path: Path, volume: int) -> Path:
        """``path`` scaled to ``volume`` percent (16-bit PCM; other formats play as they are)."""
        if volume >= 100:
            return path
        out = self._scaled / f"{path.stem}-{volume}-{abs(hash(str(path)))}.wav"
        if out.exists():
            return out
        try:
            with wave.open(str(path), "rb") as source:
                params = source.getparams()
                frames = source.readframes(params.nframes)
            if params.sampwidth != 2:
                return path
            samples = array.array("h", frames)
            samples = array.array("h", (s * volume // 100 for s in samples))
            with wave.open(str(out), "wb") as target:
                target.setparams(params)
                target.writeframes(samples.tobytes())
        except (OSError, wave.Error, EOFError) as exc:
            log.warning("voice prompt %s not scaled: %s", path, exc)
            return path
        return out
