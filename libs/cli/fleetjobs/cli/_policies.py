"""`fleetjobs policy`: New-, Set- and Get-AzureSqlJobExecutionPolicy.

A field left out takes the built-in `default` policy's value (1 week timeout, 100ms initial
retry, 30m maximum retry, backoff 2.0, 2147483647 attempts).
"""

from __future__ import annotations

import argparse
from typing import Literal

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import UsageError
from fleetjobs.cli._output import timestamp
from fleetjobs.cli._values import DURATION_HELP, finite_float, format_duration, parse_duration
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog

_INHERITED = "(default's)"


def register(commands: Subcommands) -> None:
    verbs = add_noun(commands, "policy", help="how executions retry and time out")

    create = add_verb(
        verbs,
        "create",
        help="create an execution policy (New-AzureSqlJobExecutionPolicy)",
        handler=_create,
        service="catalog",
    )
    create.add_argument("name", metavar="NAME")
    _policy_flags(create)
    create.add_argument("--request-id", default="", help="make a repeated create harmless")

    update = add_verb(
        verbs,
        "update",
        help="change the given fields of a policy (Set-AzureSqlJobExecutionPolicy)",
        handler=_update,
        service="catalog",
    )
    update.add_argument("name", metavar="NAME")
    _policy_flags(update)
    update.add_argument(
        "--clear-non-retryable",
        action="store_true",
        help="retry every error class again",
    )

    get = add_verb(verbs, "get", help="show one policy", handler=_get, service="catalog")
    get.add_argument("name", metavar="NAME")

    listing = add_verb(verbs, "list", help="list policies", handler=_list, service="catalog")
    add_limit(listing)

    delete = add_verb(
        verbs, "delete", help="delete a policy no job uses", handler=_delete, service="catalog"
    )
    delete.add_argument("name", metavar="NAME")


def _policy_flags(parser: argparse.ArgumentParser) -> None:
    for flag, what in (
        ("--job-timeout", "how long an execution may run"),
        ("--initial-retry", "the delay before the second attempt"),
        ("--maximum-retry", "the longest delay between attempts"),
    ):
        parser.add_argument(flag, type=parse_duration, metavar="D", help=f"{what}: {DURATION_HELP}")
    parser.add_argument(
        "--backoff",
        type=finite_float,
        metavar="X",
        help="factor each further delay grows by, from 1.0 to 1000",
    )
    parser.add_argument(
        "--max-attempts", type=int, metavar="N", help="most attempts per database, at least 1"
    )
    parser.add_argument(
        "--non-retryable",
        metavar="CLASS",
        action="extend",
        nargs="+",
        help="error classes that fail without retry (syntax_error, permission_denied, ...)",
    )


def build_policy(args: argparse.Namespace) -> tuple[resources.ExecutionPolicy, list[str]]:
    """The policy with the fields given, and the update_mask paths naming them."""
    policy = resources.ExecutionPolicy(name=args.name)
    paths: list[str] = []
    for value, field in (
        (args.job_timeout, "job_timeout"),
        (args.initial_retry, "initial_retry_interval"),
        (args.maximum_retry, "maximum_retry_interval"),
    ):
        if value is not None:
            getattr(policy, field).CopyFrom(value)
            paths.append(field)
    if args.backoff is not None:
        policy.retry_interval_backoff_coefficient = args.backoff
        paths.append("retry_interval_backoff_coefficient")
    if args.max_attempts is not None:
        policy.maximum_attempts = args.max_attempts
        paths.append("maximum_attempts")
    if args.non_retryable is not None or getattr(args, "clear_non_retryable", False):
        policy.non_retryable_error_classes.extend(args.non_retryable or [])
        paths.append("non_retryable_error_classes")
    return policy, paths


def _create(context: Context, args: argparse.Namespace) -> int:
    policy, _ = build_policy(args)
    response: catalog.CreateExecutionPolicyResponse = context.catalog.CreateExecutionPolicy(
        catalog.CreateExecutionPolicyRequest(execution_policy=policy, request_id=args.request_id),
        timeout=context.timeout,
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"created execution policy {response.execution_policy.name}")
    return 0


def _update(context: Context, args: argparse.Namespace) -> int:
    policy, paths = build_policy(args)
    if not paths:
        raise UsageError(
            "nothing to update: give --job-timeout, --initial-retry, --maximum-retry, "
            "--backoff, --max-attempts, --non-retryable or --clear-non-retryable"
        )
    request = catalog.UpdateExecutionPolicyRequest(execution_policy=policy)
    request.update_mask.paths.extend(paths)
    response: catalog.UpdateExecutionPolicyResponse = context.catalog.UpdateExecutionPolicy(
        request, timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"updated execution policy {response.execution_policy.name}")
    return 0


def _row(policy: resources.ExecutionPolicy) -> list[str]:
    def duration(
        field: Literal["job_timeout", "initial_retry_interval", "maximum_retry_interval"],
    ) -> str:
        return format_duration(getattr(policy, field)) if policy.HasField(field) else _INHERITED

    return [
        policy.name,
        duration("job_timeout"),
        duration("initial_retry_interval"),
        duration("maximum_retry_interval"),
        (
            f"{policy.retry_interval_backoff_coefficient:g}"
            if policy.HasField("retry_interval_backoff_coefficient")
            else _INHERITED
        ),
        str(policy.maximum_attempts) if policy.HasField("maximum_attempts") else _INHERITED,
        ", ".join(policy.non_retryable_error_classes) or "(none)",
    ]


_HEADERS = [
    "name",
    "job timeout",
    "initial retry",
    "maximum retry",
    "backoff",
    "max attempts",
    "non-retryable",
]


def _get(context: Context, args: argparse.Namespace) -> int:
    response: catalog.GetExecutionPolicyResponse = context.catalog.GetExecutionPolicy(
        catalog.GetExecutionPolicyRequest(name=args.name), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    policy = response.execution_policy
    pairs = list(zip(_HEADERS, _row(policy), strict=True))
    pairs.append(("created", timestamp(policy.create_time)))
    context.out.fields(pairs)
    return 0


def _list(context: Context, args: argparse.Namespace) -> int:
    response: catalog.ListExecutionPoliciesResponse = list_all(
        lambda size, token: context.catalog.ListExecutionPolicies(
            catalog.ListExecutionPoliciesRequest(page_size=size, page_token=token),
            timeout=context.timeout,
        ),
        "execution_policies",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        _HEADERS, (_row(p) for p in response.execution_policies), empty="no execution policies"
    )
    return 0


def _delete(context: Context, args: argparse.Namespace) -> int:
    response = context.catalog.DeleteExecutionPolicy(
        catalog.DeleteExecutionPolicyRequest(name=args.name), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"deleted execution policy {args.name}")
    return 0
