"""Exit codes, the CLI's own errors, and how a gRPC error is shown."""

from __future__ import annotations

from enum import IntEnum
from typing import TextIO

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from google.rpc import error_details_pb2  # type: ignore[import-untyped, unused-ignore]
from grpc_status import rpc_status


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_FOUND = 3
    ALREADY_EXISTS = 4
    INVALID_ARGUMENT = 5
    FAILED_PRECONDITION = 6
    UNAVAILABLE = 7
    # The command worked but what it reports is a failure: an execution that did not succeed,
    # a connection test that could not connect.
    NOT_SUCCEEDED = 8
    INTERRUPTED = 130


EXIT_CODES_HELP = """\
exit codes:
    0  success
    1  any other error (DEADLINE_EXCEEDED, INTERNAL, a file that cannot be read, ...)
    2  usage: bad flags, durations or KEY=VALUE options, no password source
    3  NOT_FOUND: no such credential, content, target, policy, job, execution or task
    4  ALREADY_EXISTS: the name is taken (scripts may treat it as done)
    5  INVALID_ARGUMENT: the service refused a field; each violation is printed
    6  FAILED_PRECONDITION: the current state forbids it (deleting content a job uses)
    7  UNAVAILABLE: a service cannot be reached; is the suite running? try `make up`
    8  the execution ended other than SUCCEEDED or SUCCEEDED_WITH_SKIPPED
       (execution start --wait, execution watch), or test-connection could not connect
  130  interrupted (Ctrl-C); a watched execution goes on running
"""

_BY_STATUS = {
    "NOT_FOUND": ExitCode.NOT_FOUND,
    "ALREADY_EXISTS": ExitCode.ALREADY_EXISTS,
    "INVALID_ARGUMENT": ExitCode.INVALID_ARGUMENT,
    "FAILED_PRECONDITION": ExitCode.FAILED_PRECONDITION,
    "UNAVAILABLE": ExitCode.UNAVAILABLE,
}


class CliError(Exception):
    """An error the CLI found itself; the message is shown as `fleetjobs: <message>`."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CliError):
    """The command line cannot work (exit 2), found after argparse accepted it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


def exit_code_for(status_name: str) -> ExitCode:
    """The exit code of a gRPC status, by its name (`NOT_FOUND`)."""
    return _BY_STATUS.get(status_name, ExitCode.ERROR)


def report_rpc_error(
    error: grpc.RpcError, stderr: TextIO, *, service: str = "", address: str = ""
) -> ExitCode:
    """Print `fleetjobs: <CODE>: <message>` and the field violations; return the exit code."""
    code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (error.details() if isinstance(error, grpc.Call) else "") or ""
    name = code.name if isinstance(code, grpc.StatusCode) else str(code)
    print(f"fleetjobs: {name}: {details}".rstrip(), file=stderr)
    for field, description in field_violations(error):
        print(f"  {field}: {description}", file=stderr)
    if name == "UNAVAILABLE":
        where = f" ({service} expected at {address}, FLEETJOBS_{service.upper()}_ADDR)"
        print(
            f"is the suite running? try `make up`{where if service and address else ''}",
            file=stderr,
        )
    elif name == "DEADLINE_EXCEEDED":
        print("the service did not answer in time; --timeout SECONDS waits longer", file=stderr)
    return exit_code_for(name)


def field_violations(error: grpc.RpcError) -> list[tuple[str, str]]:
    """The google.rpc.BadRequest field violations an error carries, in order."""
    if not isinstance(error, grpc.Call):
        return []
    try:
        status = rpc_status.from_call(error)
    except ValueError:
        # The rich status disagrees with the call's own code or message: show the plain error.
        return []
    if status is None:
        return []
    violations: list[tuple[str, str]] = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations += [(v.field, v.description) for v in bad_request.field_violations]
    return violations
