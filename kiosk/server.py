"""Running the kiosk: ledger, hardware, gate loop and the waitress server, wired together."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from typing import Any

from gpiozero.pins import Factory
from waitress.server import create_server

from kiosk.config import Config
from kiosk.gate import Gate
from kiosk.hardware import Hardware, build_hardware
from kiosk.ledger import Ledger
from kiosk.web import create_app

log = logging.getLogger(__name__)
LEDGER_FILE = "ledger.sqlite3"


@dataclass
class RunningKiosk:
    """A kiosk serving in a background thread (for the demo, the tests and the benchmarks)."""

    config: Config
    ledger: Ledger
    hardware: Hardware
    gate: Gate
    server: Any
    thread: threading.Thread
    stopping: threading.Event

    @property
    def url(self) -> str:
        return f"http://{self.config.web.host}:{self.server.effective_port}"

    def stop(self) -> None:
        self.gate.stop()  # publishes "stopped", which answers the pages' long polls
        self.server.task_dispatcher.shutdown(timeout=5)  # while the loop still sends answers
        self.stopping.set()
        self.thread.join(5)
        # The loop has stopped: closing its sockets here no longer races with its polling.
        for channel in list(self.server._map.values()):
            channel.close()
        self.hardware.close()
        self.ledger.close()


def open_ledger(config: Config) -> Ledger:
    return Ledger(config.data_dir / LEDGER_FILE, config.kiosk.id)


def build(
    config: Config,
    *,
    pin_factory: Factory | None = None,
    port: int | None = None,
    **gate_options: Any,
) -> tuple[Ledger, Hardware, Gate, Any]:
    ledger = open_ledger(config)
    hardware = build_hardware(config, pin_factory=pin_factory)
    try:
        gate = Gate(config, hardware, ledger, **gate_options)
        app = create_app(gate)
        server = create_server(
            app,
            host=config.web.host,
            port=config.web.port if port is None else port,
            threads=8,
            clear_untrusted_proxy_headers=True,
        )
    except BaseException:
        hardware.close()
        raise
    return ledger, hardware, gate, server


def start_in_background(
    config: Config, *, pin_factory: Factory | None = None, port: int = 0, **gate_options: Any
) -> RunningKiosk:
    ledger, hardware, gate, server = build(
        config, pin_factory=pin_factory, port=port, **gate_options
    )
    gate.start()
    stopping = threading.Event()

    def serve() -> None:
        # waitress's run() has no stop; one poll at a time lets stop() end the loop first.
        while not stopping.is_set():
            server.asyncore.loop(timeout=0.1, map=server._map, count=1)

    thread = threading.Thread(target=serve, name="waitress", daemon=True)
    thread.start()
    return RunningKiosk(config, ledger, hardware, gate, server, thread, stopping)


def serve_forever(config: Config) -> None:
    """The ``kiosk serve`` command: runs until SIGTERM or Ctrl-C."""
    ledger, hardware, gate, server = build(config)

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    gate.start()
    url = f"http://{config.web.host}:{server.effective_port}/"
    log.warning("kiosk %s serving on %s", config.kiosk.id, url)
    if hardware.simulator is not None:
        log.warning("simulated sensor: drive the scene at %sdemo", url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        gate.stop()
        hardware.close()
        ledger.close()
