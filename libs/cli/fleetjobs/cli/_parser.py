"""The command tree: `fleetjobs NOUN VERB ...`, built from one register() per noun module."""

from __future__ import annotations

import argparse
from importlib import metadata
from typing import TypeAlias

from fleetjobs.cli._context import Handler
from fleetjobs.cli._errors import EXIT_CODES_HELP
from fleetjobs.cli._values import positive_int, positive_seconds

# A string: argparse._SubParsersAction is generic only to type checkers.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

_DESCRIPTION = """\
Run admin SQL across fleets of databases: the command-line client of the fleetjobs API.

Define credentials, contents (scripts), targets and execution policies, tie them together in
a job, start executions and follow them to every database."""

_ENVIRONMENT_HELP = """
environment:
  FLEETJOBS_CATALOG_ADDR    catalog service      (default 127.0.0.1:50051)
  FLEETJOBS_SCHEDULER_ADDR  execution service    (default 127.0.0.1:50052)
  FLEETJOBS_EXECUTOR_ADDR   executor service     (default 127.0.0.1:50053)
  FLEETJOBS_RESULTS_ADDR    results service      (default 127.0.0.1:50054)
  FLEETJOBS_CONTROL_DB_URL  control database `fleetjobs migrate` upgrades
"""

# --json is accepted before the noun and after the verb alike. On a verb its default is
# SUPPRESS, so leaving it out there keeps what was given before the noun.
_JSON_FLAG = argparse.ArgumentParser(add_help=False)
_JSON_FLAG.add_argument(
    "--json",
    action="store_true",
    default=argparse.SUPPRESS,
    help="print the API response as JSON instead of a table",
)


def build_parser() -> argparse.ArgumentParser:
    # Imported here: every noun module imports add_noun/add_verb from this one.
    from fleetjobs.cli import (
        _contents,
        _credentials,
        _executions,
        _executor,
        _jobs,
        _migrate,
        _policies,
        _results,
        _targets,
        _tasks,
    )

    parser = argparse.ArgumentParser(
        prog="fleetjobs",
        description=_DESCRIPTION,
        epilog=EXIT_CODES_HELP + _ENVIRONMENT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--json", action="store_true", default=False, help="print API responses as JSON"
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="deadline of each call to a service (default 30)",
    )
    parser.add_argument("--version", action="version", version=f"fleetjobs {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        _migrate,
        _credentials,
        _contents,
        _targets,
        _policies,
        _jobs,
        _executions,
        _tasks,
        _results,
        _executor,
    ):
        module.register(commands)
    return parser


def add_noun(commands: Subcommands, name: str, *, help: str) -> Subcommands:
    """`fleetjobs NAME VERB`: returns the group verbs are added to."""
    parser = commands.add_parser(name, help=help, description=help)
    return parser.add_subparsers(dest="verb", metavar="VERB", required=True)


def add_verb(
    verbs: Subcommands,
    name: str,
    *,
    help: str,
    handler: Handler,
    service: str,
    description: str | None = None,
) -> argparse.ArgumentParser:
    """A command that runs `handler`; `service` is the one it calls (named when unreachable)."""
    parser = verbs.add_parser(
        name,
        help=help,
        description=description or help,
        parents=[_JSON_FLAG],
    )
    parser.set_defaults(handler=handler, service=service)
    return parser


def add_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="show at most N items (default: every page)",
    )


def _version() -> str:
    try:
        return metadata.version("fleetjobs-cli")
    except metadata.PackageNotFoundError:
        return "unknown"
