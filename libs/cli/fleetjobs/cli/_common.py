"""What every noun module needs to add its commands: the nouns, the verbs, `--json`, `--limit`.

Kept apart from `_parser.py`, which imports every noun module to build the command tree, so
that the noun modules never import the module that imports them.
"""

from __future__ import annotations

import argparse
from typing import TypeAlias

from fleetjobs.cli._context import Handler
from fleetjobs.cli._values import positive_int

# A string: argparse._SubParsersAction is generic only to type checkers.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

# --json is accepted before the noun and after the verb alike. On a verb its default is
# SUPPRESS, so leaving it out there keeps what was given before the noun.
_JSON_FLAG = argparse.ArgumentParser(add_help=False)
_JSON_FLAG.add_argument(
    "--json",
    action="store_true",
    default=argparse.SUPPRESS,
    help="print the API response as JSON instead of a table",
)


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
