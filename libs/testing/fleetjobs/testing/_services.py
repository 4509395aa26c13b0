"""Runs a service in a background thread of the test process: a real grpc.aio server on a
real port, with its own event loop, stopped through the same graceful path as SIGTERM."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetjobs.core.config import CommonSettings
from fleetjobs.core.grpc import wait_serving
from fleetjobs.core.runtime import Runtime, Service, serve_forever


@dataclass
class ServiceThread:
    name: str
    make_service: Callable[[Runtime], Service]
    settings: CommonSettings
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _error: BaseException | None = None
    _listening: threading.Event = field(default_factory=threading.Event)

    @property
    def address(self) -> str:
        return self.settings.listen_address(self.name)

    def start(self, timeout: float = 30.0) -> None:
        def run() -> None:
            async def main() -> None:
                self._loop = asyncio.get_running_loop()
                self._stop = asyncio.Event()
                await serve_forever(
                    self.name,
                    self.make_service,
                    settings=self.settings,
                    stop=self._stop,
                    on_listening=lambda _port: self._listening.set(),
                )

            try:
                asyncio.run(main())
            except BaseException as error:  # surfaced to the test by start()/stop()
                self._error = error
                self._listening.set()

        self._thread = threading.Thread(target=run, name=f"svc-{self.name}", daemon=True)
        self._thread.start()
        if not self._listening.wait(timeout):
            raise RuntimeError(f"{self.name} did not start listening within {timeout} s")
        if self._error is not None:
            raise RuntimeError(f"{self.name} failed to start") from self._error
        wait_serving(self.address, timeout=timeout)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)
