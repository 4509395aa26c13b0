"""`fleetjobs results`: the result sets an execution wrote to its destination table."""

from __future__ import annotations

import argparse

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._output import destination
from fleetjobs.v1 import results_service_pb2 as results_service


def register(commands: Subcommands) -> None:
    verbs = add_noun(commands, "results", help="result sets collected into destination tables")
    listing = add_verb(
        verbs,
        "list",
        help="list the result sets of an execution (a parent: every database; a child: one)",
        handler=_list,
        service="results",
    )
    listing.add_argument("execution_id", metavar="EXECUTION_ID")
    add_limit(listing)


def _list(context: Context, args: argparse.Namespace) -> int:
    response: results_service.ListResultSetsResponse = list_all(
        lambda size, token: context.results.ListResultSets(
            results_service.ListResultSetsRequest(
                job_execution_id=args.execution_id, page_size=size, page_token=token
            ),
            timeout=context.timeout,
        ),
        "result_sets",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["database", "server", "engine", "rows", "destination", "columns"],
        (
            [
                result.database_name,
                result.server_name,
                result.engine,
                str(result.rows_written),
                destination(result.destination),
                ", ".join(f"{c.name} {c.type}" for c in result.columns),
            ]
            for result in response.result_sets
        ),
        empty="no result sets",
    )
    return 0
