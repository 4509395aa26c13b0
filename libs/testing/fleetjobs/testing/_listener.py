"""A TCP listener the test owns, counting accepted connections: proof that fleetjobs never
sent a byte (not even a TLS hello or a startup packet) to a server it must refuse."""

from __future__ import annotations

import socket
import threading

from fleetjobs.testing._servers import absent


class CountingListener:
    def __init__(self, host: str = "127.0.0.2") -> None:
        self.host = host
        self._sock = socket.socket()
        try:
            self._sock.bind((host, 0))
        except OSError as error:
            absent(f"cannot listen on {host}: {error}")
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()
