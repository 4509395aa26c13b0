"""`fleetjobs job`: New-, Set-, Get- and Remove-AzureSqlJob.

A job ties a content, a target, a credential and an execution policy together, and may
collect the first result set of every database into one destination table.
"""

from __future__ import annotations

import argparse

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import UsageError
from fleetjobs.cli._output import destination, timestamp
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog

# (flag, ResultDestination field, help)
_DESTINATION_FLAGS = (
    ("--dest-engine", "engine", "postgresql, mysql or sqlite"),
    ("--dest-server", "server_name", "the destination server (not for sqlite)"),
    ("--dest-port", "port", "its port (default: the engine's own)"),
    ("--dest-database", "database_name", "the destination database (sqlite: a path)"),
    ("--dest-schema", "schema_name", "the schema (default: the connection's own)"),
    ("--dest-table", "table_name", "the table, created when missing"),
    ("--dest-credential", "credential_name", "the credential for it (not for sqlite)"),
)


def register(commands: Subcommands) -> None:
    verbs = add_noun(commands, "job", help="a content run on a target with a credential")

    create = add_verb(
        verbs,
        "create",
        help="create a job (New-AzureSqlJob)",
        handler=_create,
        service="catalog",
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument("--content", required=True, metavar="NAME", help="the script to run")
    create.add_argument("--target", required=True, metavar="ID", help="the target to run on")
    create.add_argument(
        "--credential", default="", metavar="NAME", help="required unless every target is sqlite"
    )
    create.add_argument(
        "--policy", default="", metavar="NAME", help="execution policy (default: default)"
    )
    create.add_argument(
        "--allow-concurrent",
        action="store_true",
        help="let a new execution run on a database an earlier one still runs on",
    )
    _destination_flags(create)
    create.add_argument("--request-id", default="", help="make a repeated create harmless")

    update = add_verb(
        verbs,
        "update",
        help="change the given fields of a job (Set-AzureSqlJob)",
        handler=_update,
        service="catalog",
        description="Change the given fields and nothing else. --dest-* flags change those "
        "fields of the current destination.",
    )
    update.add_argument("name", metavar="NAME")
    update.add_argument("--content", metavar="NAME", help="the script to run")
    update.add_argument("--target", metavar="ID", help="the target to run on")
    update.add_argument("--credential", metavar="NAME", help="the credential ('' clears it)")
    update.add_argument("--policy", metavar="NAME", help="execution policy ('' for default)")
    update.add_argument(
        "--allow-concurrent",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether a new execution may run on a database an earlier one still runs on",
    )
    destination = _destination_flags(update)
    destination.add_argument(
        "--clear-destination", action="store_true", help="collect no results any more"
    )

    get = add_verb(verbs, "get", help="show one job", handler=_get, service="catalog")
    get.add_argument("name", metavar="NAME")

    listing = add_verb(verbs, "list", help="list jobs", handler=_list, service="catalog")
    add_limit(listing)

    delete = add_verb(
        verbs,
        "delete",
        help="delete a job and its history once no execution is active (Remove-AzureSqlJob)",
        handler=_delete,
        service="catalog",
    )
    delete.add_argument("name", metavar="NAME")


def _destination_flags(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    group = parser.add_argument_group(
        "result destination", "where the first result set of every database is written"
    )
    for flag, field, help in _DESTINATION_FLAGS:
        group.add_argument(
            flag,
            dest=f"dest_{field}",
            type=int if field == "port" else str,
            metavar="PORT" if field == "port" else field.split("_")[0].upper(),
            help=help,
        )
    return group


def build_destination(
    args: argparse.Namespace, current: resources.ResultDestination | None = None
) -> resources.ResultDestination | None:
    """The destination the --dest-* flags describe, on top of `current`; None if none given."""
    given = {
        field: getattr(args, f"dest_{field}")
        for _, field, _ in _DESTINATION_FLAGS
        if getattr(args, f"dest_{field}") is not None
    }
    if not given:
        return None
    destination = resources.ResultDestination()
    if current is not None:
        destination.CopyFrom(current)
    for field, value in given.items():
        setattr(destination, field, value)
    return destination


def build_create(args: argparse.Namespace) -> catalog.CreateJobRequest:
    job = resources.Job(
        name=args.name,
        content_name=args.content,
        target_id=args.target,
        credential_name=args.credential,
        execution_policy_name=args.policy,
        allow_concurrent_executions=args.allow_concurrent,
    )
    destination = build_destination(args)
    if destination is not None:
        job.result_destination.CopyFrom(destination)
    return catalog.CreateJobRequest(job=job, request_id=args.request_id)


def build_update(
    args: argparse.Namespace, current_destination: resources.ResultDestination | None = None
) -> catalog.UpdateJobRequest:
    """The job with the fields given and an update_mask naming exactly them."""
    job = resources.Job(name=args.name)
    paths: list[str] = []
    for value, field in (
        (args.content, "content_name"),
        (args.target, "target_id"),
        (args.credential, "credential_name"),
        (args.policy, "execution_policy_name"),
        (args.allow_concurrent, "allow_concurrent_executions"),
    ):
        if value is not None:
            setattr(job, field, value)
            paths.append(field)
    destination = build_destination(args, current_destination)
    if destination is not None and args.clear_destination:
        raise UsageError("--clear-destination cannot go with --dest-* flags")
    if destination is not None:
        job.result_destination.CopyFrom(destination)
    if destination is not None or args.clear_destination:
        paths.append("result_destination")
    if not paths:
        raise UsageError(
            "nothing to update: give --content, --target, --credential, --policy, "
            "--[no-]allow-concurrent, --dest-* or --clear-destination"
        )
    request = catalog.UpdateJobRequest(job=job)
    request.update_mask.paths.extend(paths)
    return request


def describe_destination(job: resources.Job) -> str:
    return destination(job.result_destination) if job.HasField("result_destination") else ""


def _create(context: Context, args: argparse.Namespace) -> int:
    response: catalog.CreateJobResponse = context.catalog.CreateJob(
        build_create(args), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"created job {response.job.name}")
    return 0


def _update(context: Context, args: argparse.Namespace) -> int:
    current: resources.ResultDestination | None = None
    if build_destination(args) is not None:
        # Only the --dest-* fields given change; the others keep the job's current values.
        existing: catalog.GetJobResponse = context.catalog.GetJob(
            catalog.GetJobRequest(name=args.name), timeout=context.timeout
        )
        if existing.job.HasField("result_destination"):
            current = existing.job.result_destination
    response: catalog.UpdateJobResponse = context.catalog.UpdateJob(
        build_update(args, current), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"updated job {response.job.name}")
    return 0


def _get(context: Context, args: argparse.Namespace) -> int:
    response: catalog.GetJobResponse = context.catalog.GetJob(
        catalog.GetJobRequest(name=args.name), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    job = response.job
    context.out.fields(
        [
            ("name", job.name),
            ("content", job.content_name),
            ("target", job.target_id),
            ("credential", job.credential_name),
            ("policy", job.execution_policy_name or "default"),
            ("concurrent", "allowed" if job.allow_concurrent_executions else "skipped"),
            ("destination", describe_destination(job) or "(none)"),
            ("created", timestamp(job.create_time)),
            ("updated", timestamp(job.update_time)),
        ]
    )
    return 0


def _list(context: Context, args: argparse.Namespace) -> int:
    response: catalog.ListJobsResponse = list_all(
        lambda size, token: context.catalog.ListJobs(
            catalog.ListJobsRequest(page_size=size, page_token=token), timeout=context.timeout
        ),
        "jobs",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["name", "content", "target", "credential", "policy", "destination"],
        (
            [
                j.name,
                j.content_name,
                j.target_id,
                j.credential_name,
                j.execution_policy_name or "default",
                describe_destination(j),
            ]
            for j in response.jobs
        ),
        empty="no jobs",
    )
    return 0


def _delete(context: Context, args: argparse.Namespace) -> int:
    response = context.catalog.DeleteJob(
        catalog.DeleteJobRequest(name=args.name), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(
            f"deleted job {args.name}: it is removed with its history once no execution of it "
            "is active (running ones go on; stop them with `fleetjobs execution stop ID`)"
        )
    return 0
