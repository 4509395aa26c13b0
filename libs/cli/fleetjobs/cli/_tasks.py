"""`fleetjobs task`: Get-AzureSqlJobTaskExecution, the attempts made on each database."""

from __future__ import annotations

import argparse

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._output import clip, lifecycle, timestamp
from fleetjobs.v1 import execution_service_pb2 as execution_service


def register(commands: Subcommands) -> None:
    verbs = add_noun(commands, "task", help="attempts: one run of the script on one database")

    listing = add_verb(
        verbs,
        "list",
        help="list the attempts of an execution (a child's, or all of a parent's children)",
        handler=_list,
        service="scheduler",
    )
    listing.add_argument("execution_id", metavar="EXECUTION_ID")
    add_limit(listing)

    show = add_verb(
        verbs,
        "show",
        help="show one attempt with its informational messages",
        handler=_show,
        service="scheduler",
    )
    show.add_argument("task_id", metavar="TASK_ID")


def _list(context: Context, args: argparse.Namespace) -> int:
    response: execution_service.ListJobTaskExecutionsResponse = list_all(
        lambda size, token: context.execution.ListJobTaskExecutions(
            execution_service.ListJobTaskExecutionsRequest(
                job_execution_id=args.execution_id, page_size=size, page_token=token
            ),
            timeout=context.timeout,
        ),
        "job_task_executions",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["id", "attempt", "database", "server", "lifecycle", "error class", "rows", "message"],
        (
            [
                task.job_task_execution_id,
                str(task.attempt),
                task.database_name,
                task.server_name,
                lifecycle(task.lifecycle),
                task.error_class,
                str(task.rows_collected),
                clip(task.message),
            ]
            for task in response.job_task_executions
        ),
        empty="no attempts yet",
    )
    return 0


def _show(context: Context, args: argparse.Namespace) -> int:
    response: execution_service.GetJobTaskExecutionResponse = context.execution.GetJobTaskExecution(
        execution_service.GetJobTaskExecutionRequest(job_task_execution_id=args.task_id),
        timeout=context.timeout,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    task = response.job_task_execution
    context.out.fields(
        [
            ("id", task.job_task_execution_id),
            ("execution", task.job_execution_id),
            ("attempt", str(task.attempt)),
            ("database", task.database_name),
            ("server", task.server_name),
            ("lifecycle", lifecycle(task.lifecycle)),
            ("error class", task.error_class),
            ("message", task.message),
            ("rows", str(task.rows_collected)),
            ("started", timestamp(task.start_time)),
            ("ended", timestamp(task.end_time)),
        ]
    )
    if task.messages:
        context.out.line()
        context.out.line("messages:")
        for message in task.messages:
            context.out.line(f"  {message}")
    return 0
