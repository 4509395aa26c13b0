"""The command tree: `fleetjobs NOUN VERB ...`, built from one register() per noun module."""

from __future__ import annotations

import argparse
from importlib import metadata

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
from fleetjobs.cli._errors import EXIT_CODES_HELP
from fleetjobs.cli._values import positive_seconds

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


def build_parser() -> argparse.ArgumentParser:
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


def _version() -> str:
    try:
        return metadata.version("fleetjobs-cli")
    except metadata.PackageNotFoundError:
        return "unknown"
