"""A waitress server running in a background thread that can be stopped cleanly.

waitress's ``run()`` has no stop; closing its sockets while its loop polls them raises EBADF in
the loop thread. Here the loop polls one step at a time, so ``stop()`` ends the loop first and
only then closes the sockets.
"""

from __future__ import annotations

import threading
from typing import Any

from waitress.server import create_server


class BackgroundServer:
    def __init__(self, app: Any, *, host: str, port: int, threads: int = 8) -> None:
        self.server = create_server(
            app, host=host, port=port, threads=threads, clear_untrusted_proxy_headers=True
        )
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="waitress", daemon=True)

    @property
    def port(self) -> int:
        return self.server.effective_port

    def _serve(self) -> None:
        while not self._stopping.is_set():
            self.server.asyncore.loop(timeout=0.1, map=self.server._map, count=1)

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.task_dispatcher.shutdown(timeout=5)  # answers in progress still go out
        self._stopping.set()
        self._thread.join(5)
        for channel in list(self.server._map.values()):
            channel.close()
