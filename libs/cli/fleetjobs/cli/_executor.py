"""`fleetjobs connectors`, `workers` and `test-connection`: what the executors can reach."""

from __future__ import annotations

import argparse

from fleetjobs.cli._common import Subcommands, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import ExitCode
from fleetjobs.cli._output import clip, timestamp
from fleetjobs.v1 import executor_service_pb2 as executor_service


def register(commands: Subcommands) -> None:
    add_verb(
        commands,
        "connectors",
        help="list the engines the executor can connect to",
        handler=_connectors,
        service="executor",
    )
    add_verb(
        commands,
        "workers",
        help="list the executor workers alive now",
        handler=_workers,
        service="executor",
    )
    test = add_verb(
        commands,
        "test-connection",
        help="connect to a database target and show the server's version",
        handler=_test_connection,
        service="executor",
        description="Connect to a database target through an executor, with a credential, "
        "and show the server's version. Exit 8 when the connection fails.",
    )
    test.add_argument("target_id", metavar="TARGET_ID")
    test.add_argument(
        "--credential", default="", metavar="NAME", help="required unless the target is sqlite"
    )


def _connectors(context: Context, args: argparse.Namespace) -> int:
    response: executor_service.ListConnectorsResponse = context.executor.ListConnectors(
        executor_service.ListConnectorsRequest(), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["engine", "available", "driver", "detail"],
        (
            [c.engine, "yes" if c.available else "no", c.driver, clip(c.detail)]
            for c in response.connectors
        ),
        empty="no connectors",
    )
    return 0


def _workers(context: Context, args: argparse.Namespace) -> int:
    response: executor_service.ListWorkersResponse = context.executor.ListWorkers(
        executor_service.ListWorkersRequest(), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["worker", "host", "tasks in flight", "started"],
        (
            [w.worker_id, w.host, str(w.tasks_in_flight), timestamp(w.started_time)]
            for w in response.workers
        ),
        empty="no workers alive",
    )
    return 0


def _test_connection(context: Context, args: argparse.Namespace) -> int:
    response: executor_service.TestConnectionResponse = context.executor.TestConnection(
        executor_service.TestConnectionRequest(
            target_id=args.target_id, credential_name=args.credential
        ),
        timeout=context.timeout,
    )
    if context.out.json:
        context.out.emit_json(response)
    elif response.ok:
        version = f": {response.server_version}" if response.server_version else ""
        context.out.line(f"ok{version}")
    else:
        context.out.line(f"failed: {response.message}")
    return ExitCode.OK if response.ok else ExitCode.NOT_SUCCEEDED
