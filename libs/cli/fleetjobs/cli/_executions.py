"""`fleetjobs execution`: Start-, Get-, Wait- and Stop-AzureSqlJobExecution."""

from __future__ import annotations

import argparse

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import CliError, ExitCode
from fleetjobs.cli._output import clip, lifecycle, timestamp
from fleetjobs.cli._progress import SUCCESSFUL, ProgressRenderer, is_terminal, ticking
from fleetjobs.v1 import execution_resources_pb2 as execution_resources
from fleetjobs.v1 import execution_service_pb2 as execution_service

_CHILD_HEADERS = ["id", "database", "server", "engine", "lifecycle", "attempts", "message"]


def register(commands: Subcommands) -> None:
    verbs = add_noun(commands, "execution", help="runs of a job, one child per database")

    start = add_verb(
        verbs,
        "start",
        help="start an execution of a job and print its id (Start-AzureSqlJobExecution)",
        handler=_start,
        service="scheduler",
        description="Start an execution and print its id. With --wait, follow it to its end "
        "(progress on stderr) and exit 0 only if it SUCCEEDED or SUCCEEDED_WITH_SKIPPED, "
        "8 otherwise.",
    )
    start.add_argument("job", metavar="JOB")
    start.add_argument(
        "--request-id", default="", help="a repeat with the same id returns the first execution"
    )
    start.add_argument("--wait", action="store_true", help="follow the execution to its end")

    show = add_verb(
        verbs,
        "show",
        help="show one execution (Get-AzureSqlJobExecution)",
        handler=_show,
        service="scheduler",
    )
    show.add_argument("execution_id", metavar="ID")
    show.add_argument(
        "--children", action="store_true", help="list every database's child execution too"
    )

    listing = add_verb(
        verbs,
        "list",
        help="list executions: by default the active top-level ones",
        handler=_list,
        service="scheduler",
    )
    listing.add_argument("--job", default="", metavar="NAME", help="only this job's executions")
    listing.add_argument("--target", default="", metavar="ID", help="only those on this target")
    listing.add_argument(
        "--schedule", default="", metavar="NAME", help="only those this schedule fired"
    )
    listing.add_argument(
        "--parent", default="", metavar="ID", help="only the children of this execution"
    )
    listing.add_argument(
        "--all", action="store_true", help="finished executions too (-IncludeInactive)"
    )
    listing.add_argument(
        "--children", action="store_true", help="each execution's children under it"
    )
    add_limit(listing)

    watch = add_verb(
        verbs,
        "watch",
        help="follow an execution to its end (Wait-AzureSqlJobExecution)",
        handler=_watch,
        service="scheduler",
        description="Follow an execution until it ends, drawing progress on stderr; exit 0 "
        "only if it SUCCEEDED or SUCCEEDED_WITH_SKIPPED, 8 otherwise.",
    )
    watch.add_argument("execution_id", metavar="ID")

    stop = add_verb(
        verbs,
        "stop",
        help="cancel an execution and all its children (Stop-AzureSqlJobExecution)",
        handler=_stop,
        service="scheduler",
    )
    stop.add_argument("execution_id", metavar="ID")


def follow(context: Context, execution_id: str) -> execution_resources.JobExecution:
    """Draw the execution's progress on stderr until it ends; return its final state."""
    stderr = context.out.stderr
    live = stderr.isatty()
    renderer = ProgressRenderer(stderr, live=live)
    stream = context.execution.WatchJobExecution(
        execution_service.WatchJobExecutionRequest(job_execution_id=execution_id)
    )
    try:
        with ticking(renderer):
            for message in stream:
                renderer.update(message)
    except KeyboardInterrupt:
        stream.cancel()
        renderer.close()
        context.out.note(
            f"stopped watching; execution {execution_id} goes on "
            f"(`fleetjobs execution stop {execution_id}` cancels it)"
        )
        raise
    finally:
        # Whatever ends the stream, an error message must not land on the bar's line.
        renderer.close()
    final = renderer.last
    if final is None or not is_terminal(final):
        # The stream ends after the terminal state; ending sooner means the service went
        # away. Ask once more rather than guess.
        response: execution_service.GetJobExecutionResponse = context.execution.GetJobExecution(
            execution_service.GetJobExecutionRequest(job_execution_id=execution_id),
            timeout=context.timeout,
        )
        final = response.job_execution
        if not is_terminal(final):
            raise CliError(
                f"the watch ended while execution {execution_id} is {lifecycle(final.lifecycle)}; "
                f"`fleetjobs execution watch {execution_id}` follows it again"
            )
    return final


def _finish(context: Context, final: execution_resources.JobExecution) -> int:
    """Show how a followed execution ended; exit 0 only for a success."""
    if context.out.json:
        context.out.emit_json(execution_service.GetJobExecutionResponse(job_execution=final))
    else:
        text = lifecycle(final.lifecycle)
        context.out.line(f"{text}: {final.message}" if final.message else text)
    return ExitCode.OK if final.lifecycle in SUCCESSFUL else ExitCode.NOT_SUCCEEDED


def _start(context: Context, args: argparse.Namespace) -> int:
    response: execution_service.StartJobExecutionResponse = context.execution.StartJobExecution(
        execution_service.StartJobExecutionRequest(job_name=args.job, request_id=args.request_id),
        timeout=context.timeout,
    )
    execution_id = response.job_execution.job_execution_id
    if not args.wait:
        if context.out.json:
            context.out.emit_json(response)
        else:
            context.out.line(execution_id)
        return 0
    if not context.out.json:
        context.out.line(execution_id)
    return _finish(context, follow(context, execution_id))


def _watch(context: Context, args: argparse.Namespace) -> int:
    return _finish(context, follow(context, args.execution_id))


def _show(context: Context, args: argparse.Namespace) -> int:
    response: execution_service.GetJobExecutionResponse = context.execution.GetJobExecution(
        execution_service.GetJobExecutionRequest(
            job_execution_id=args.execution_id, include_children=args.children
        ),
        timeout=context.timeout,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    execution = response.job_execution
    context.out.fields(details(execution))
    if args.children:
        context.out.line()
        context.out.table(
            _CHILD_HEADERS,
            (child_row(child) for child in execution.child_executions),
            empty="no child executions",
        )
    return 0


def details(execution: execution_resources.JobExecution) -> list[tuple[str, str]]:
    pairs = [
        ("id", execution.job_execution_id),
        ("job", execution.job_name),
        ("lifecycle", lifecycle(execution.lifecycle)),
        ("message", execution.message),
    ]
    if execution.parent_job_execution_id:
        pairs += [
            ("parent", execution.parent_job_execution_id),
            ("database", execution.database_name),
            ("server", execution.server_name),
            ("engine", execution.engine),
            ("attempts", str(execution.attempts)),
        ]
    else:
        pairs.append(("children", summarize_counts(execution)))
    pairs += [
        ("content version", str(execution.content_version)),
        ("target", execution.target_id),
        ("schedule", execution.schedule_name),
        ("created", timestamp(execution.create_time)),
        ("started", timestamp(execution.start_time)),
        ("ended", timestamp(execution.end_time)),
    ]
    return pairs


def summarize_counts(execution: execution_resources.JobExecution) -> str:
    """`50: 48 SUCCEEDED, 2 FAILED`, or empty before the execution has children."""
    total = sum(execution.counts.values())
    if not total:
        return ""
    parts = [
        f"{count} {name.removeprefix('LIFECYCLE_')}"
        for name, count in sorted(execution.counts.items())
        if count
    ]
    return f"{total}: " + ", ".join(parts)


def child_row(child: execution_resources.JobExecution) -> list[str]:
    return [
        child.job_execution_id,
        child.database_name,
        child.server_name,
        child.engine,
        lifecycle(child.lifecycle),
        str(child.attempts),
        clip(child.message),
    ]


def _progress(execution: execution_resources.JobExecution) -> str:
    total = sum(execution.counts.values())
    return f"{execution.counts.get('LIFECYCLE_SUCCEEDED', 0)}/{total}" if total else ""


def _started(execution: execution_resources.JobExecution) -> str:
    return timestamp(execution.start_time) or timestamp(execution.create_time)


def _list(context: Context, args: argparse.Namespace) -> int:
    response: execution_service.ListJobExecutionsResponse = list_all(
        lambda size, token: context.execution.ListJobExecutions(
            execution_service.ListJobExecutionsRequest(
                job_name=args.job,
                target_id=args.target,
                schedule_name=args.schedule,
                parent_job_execution_id=args.parent,
                include_inactive=args.all,
                include_children=args.children,
                page_size=size,
                page_token=token,
            ),
            timeout=context.timeout,
        ),
        "job_executions",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    rows: list[list[str]] = []
    for execution in response.job_executions:
        rows.append(
            [
                execution.job_execution_id,
                execution.job_name,
                lifecycle(execution.lifecycle),
                _progress(execution),
                _started(execution),
                clip(execution.message),
            ]
        )
        for child in execution.child_executions:
            where = "/".join(p for p in (child.server_name, child.database_name) if p)
            rows.append(
                [
                    child.job_execution_id,
                    f"  {where}",
                    lifecycle(child.lifecycle),
                    f"attempt {child.attempts}" if child.attempts else "",
                    _started(child),
                    clip(child.message),
                ]
            )
    context.out.table(
        ["id", "job", "lifecycle", "progress", "started", "message"],
        rows,
        empty="no executions" if args.all else "no active executions (--all shows finished ones)",
    )
    return 0


def _stop(context: Context, args: argparse.Namespace) -> int:
    response: execution_service.StopJobExecutionResponse = context.execution.StopJobExecution(
        execution_service.StopJobExecutionRequest(job_execution_id=args.execution_id),
        timeout=context.timeout,
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        execution = response.job_execution
        context.out.line(
            f"execution {execution.job_execution_id}: {lifecycle(execution.lifecycle)}"
        )
    return 0
