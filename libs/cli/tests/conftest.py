"""Real gRPC servers on port 0 that stand in for the suite's services.

Each test module defines small, honest servicers of the RPCs it needs (they record what they
receive); the CLI, run with fleetjobs.cli.testing.run_cli, talks to them over real sockets
through the generated stubs.

The generated servicer base classes mark every RPC abstract for type checkers, while at run
time they answer UNIMPLEMENTED for whatever a subclass leaves out: that is why instantiating a
servicer that implements only the RPCs its test needs carries `# type: ignore[abstract]`.

Command lines in the tests keep each flag beside its value (`# fmt: skip`): one argument per
line, as the formatter would have it, hides which value goes with which flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
import pytest

from fleetjobs.core.crypto import KeyStore

AddServicer = Callable[[Any, Any], None]


@pytest.fixture
def serve() -> Iterator[Callable[[AddServicer, object], str]]:
    """serve(add_XServicer_to_server, servicer) → "127.0.0.1:PORT" of a running server."""
    servers: list[Any] = []

    def start(add: AddServicer, servicer: object) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        add(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return f"127.0.0.1:{port}"

    yield start
    for server in servers:
        server.stop(None)


@pytest.fixture(scope="session")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    """A real service key pair (what the executor holds); the catalog publishes its public half."""
    directory: Path = tmp_path_factory.mktemp("keys")
    return KeyStore.ensure(directory)
