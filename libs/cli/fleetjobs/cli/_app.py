"""Run one command: parse, dispatch, and turn every failure into a message and an exit code."""

from __future__ import annotations

import os
import sys

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types

from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import CliError, ExitCode, report_rpc_error
from fleetjobs.cli._output import Output
from fleetjobs.cli._parser import build_parser
from fleetjobs.core.config import SettingsError


def main(argv: list[str] | None = None) -> int:
    """Run `fleetjobs ARGV...` in this process and return the exit code.

    Reads sys.stdin and writes sys.stdout / sys.stderr as they are at the call, so a test can
    capture them.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        # argparse exits for --help and --version (0) and for usage errors (2, already shown).
        return exit_.code if isinstance(exit_.code, int) else int(exit_.code is not None)
    out = Output(json_mode=args.json, stdout=sys.stdout, stderr=sys.stderr)
    context = Context(out=out, stdin=sys.stdin, timeout=args.timeout)
    try:
        return int(args.handler(context, args))
    except grpc.RpcError as error:
        return report_rpc_error(
            error, sys.stderr, service=args.service, address=context.address(args.service)
        )
    except CliError as error:
        print(f"fleetjobs: {error}", file=sys.stderr)
        return error.exit_code
    except SettingsError as error:
        print(f"fleetjobs: {error}", file=sys.stderr)
        return ExitCode.ERROR
    except KeyboardInterrupt:
        print("fleetjobs: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # `fleetjobs target list | head`: the reader is gone, so is anything left to say.
        _discard_stdout()
        return ExitCode.ERROR
    finally:
        context.close()


def _discard_stdout() -> None:
    # Python flushes stdout at exit and would fail again on the closed pipe (Python docs,
    # "Note on SIGPIPE").
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
