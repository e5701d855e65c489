"""A waitress server running in a background thread that can be stopped cleanly.

waitress's ``run()`` has no stop; closing its sockets while its loop polls them raises EBADF in
the loop thread. Here the loop polls one step at a time, so ``stop()`` ends the loop first and
only then closes the sockets.
"""

from __future__ import annotations

import threading
from typing import Any

from waitress.server import BaseWSGIServer, create_server


class BackgroundServer:
    def __init__(self, app: Any, *, host: str, port: int, threads: int = 8) -> None:
        # The sockets' map is ours, so that the loop and stop() use it without reaching in.
        self._map: dict[Any, Any] = {}
        server = create_server(
            app,
            map=self._map,
            host=host,
            port=port,
            threads=threads,
            clear_untrusted_proxy_headers=True,
        )
        if not isinstance(server, BaseWSGIServer):  # one host and one port give one server
            raise TypeError(f"expected one listening server for {host}:{port}")
        self.server = server
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="waitress", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.getsockname()[1])

    def _serve(self) -> None:
        while not self._stopping.is_set():
            self.server.asyncore.loop(timeout=0.1, map=self._map, count=1)

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.task_dispatcher.shutdown(timeout=5)  # answers in progress still go out
        self._stopping.set()
        self._thread.join(5)
        for channel in list(self._map.values()):
            channel.close()
