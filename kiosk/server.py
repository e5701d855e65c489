"""Running the kiosk: ledger, hardware, gate loop, sync worker and the waitress server."""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from typing import Any

from gpiozero.pins import Factory
from waitress.server import create_server

from drivers.speaker import AlsaSpeaker, RecordingSpeaker, Speaker, has_sound_card
from kiosk.background_server import BackgroundServer
from kiosk.config import Config
from kiosk.gate import Gate
from kiosk.hardware import Hardware, build_hardware
from kiosk.ledger import Ledger
from kiosk.sync_worker import SyncWorker, maybe_sync_worker
from kiosk.voice import Voice
from kiosk.web import create_app
from sync.ops.notify import Watchdog, notify
from sync.ops.ports import listen_error

log = logging.getLogger(__name__)
LEDGER_FILE = "ledger.sqlite3"


class ListenError(RuntimeError):
    """The touchscreen's port could not be bound; nothing was started (the message says why)."""


def speaker_for(config: Config) -> Speaker:
    """ALSA when the machine has a sound card; else the prompts are only recorded (one line
    says so: a demo on a laptop in a container, a Pi with no speaker fitted)."""
    if not config.voice.enabled or has_sound_card():
        return AlsaSpeaker(config.voice.device)
    log.info("本机没有声卡，语音提示不播放（no sound card: the voice prompts are not played）")
    return RecordingSpeaker()


def start_voice(gate: Gate, speaker: Speaker) -> Voice:
    """The spoken prompts, following the gate's screen (kiosk/voice.py)."""
    voice = Voice(
        lambda: gate.config, gate.screen, speaker, synthetic_dir=gate.config.data_dir / "voice"
    )
    voice.start()
    return voice


def open_ledger(config: Config) -> Ledger:
    return Ledger(config.data_dir / LEDGER_FILE, config.kiosk.id, config.tz)


def build(
    config: Config, *, pin_factory: Factory | None = None, **gate_options: Any
) -> tuple[Ledger, Hardware, Gate]:
    ledger = open_ledger(config)
    hardware = build_hardware(config, pin_factory=pin_factory)
    try:
        gate = Gate(config, hardware, ledger, **gate_options)
    except BaseException:
        hardware.close()
        raise
    return ledger, hardware, gate


@dataclass
class RunningKiosk:
    """A kiosk serving in a background thread (for the tests and the benchmarks)."""

    config: Config
    ledger: Ledger
    hardware: Hardware
    gate: Gate
    server: BackgroundServer
    voice: Voice
    sync: SyncWorker | None = None

    @property
    def url(self) -> str:
        return f"http://{self.config.web.host}:{self.server.port}"

    def stop(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        self.gate.stop()  # publishes "stopped", which answers the pages' long polls
        self.voice.stop()
        self.server.stop()
        self.hardware.close()
        self.ledger.close()


def start_in_background(
    config: Config,
    *,
    pin_factory: Factory | None = None,
    port: int = 0,
    speaker: Speaker | None = None,
    **gate_options: Any,
) -> RunningKiosk:
    """A whole kiosk in background threads; the voice plays on ``speaker`` (by default one that
    only records what it was asked to play)."""
    ledger, hardware, gate = build(config, pin_factory=pin_factory, **gate_options)
    server = BackgroundServer(create_app(gate), host=config.web.host, port=port)
    gate.start()
    voice = start_voice(gate, speaker if speaker is not None else RecordingSpeaker())
    sync = maybe_sync_worker(gate, ledger)
    if sync is not None:
        sync.start()
    server.start()
    return RunningKiosk(config, ledger, hardware, gate, server, voice, sync)


def serve_forever(config: Config) -> None:
    """The ``kiosk serve`` command: runs until SIGTERM or Ctrl-C; under systemd it reports READY
    once serving and pings the watchdog only while the gate loop runs."""
    ledger, hardware, gate = build(config)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    try:
        server = create_server(
            create_app(gate),
            host=config.web.host,
            port=config.web.port,
            threads=8,
            clear_untrusted_proxy_headers=True,
        )
    except OSError as exc:  # bound before anything starts: a busy port leaves nothing running
        hardware.close()
        ledger.close()
        raise ListenError(
            listen_error(config.web.host, config.web.port, exc, "配置里的 web.port")
        ) from None
    signal.signal(signal.SIGTERM, stop)
    gate.start()
    voice = start_voice(gate, speaker_for(config))
    sync = maybe_sync_worker(gate, ledger)
    if sync is not None:
        sync.start()
    url = f"http://{config.web.host}:{config.web.port}/"
    log.info("门岗 %s 已在 %s 提供服务（kiosk serving）", config.kiosk.id, url)
    if hardware.simulator is not None:
        log.info("模拟传感器：在 %sdemo 操控场景（simulated sensor）", url)
    watchdog = Watchdog(gate.alive)
    watchdog.start()
    notify(f"READY=1\nSTATUS=serving on {url}")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        notify("STOPPING=1")
        watchdog.stop()
        if sync is not None:
            sync.stop()
        gate.stop()
        voice.stop()
        hardware.close()
        ledger.close()
