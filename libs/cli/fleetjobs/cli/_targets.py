"""`fleetjobs target`: New-AzureSqlJobDatabaseTarget, New-AzureSqlJobTarget -CustomCollectionName,
Add-/Remove-AzureSqlJobChildTarget and Get-AzureSqlJobTarget.

Targets are known by id; the commands that create one print the id alone on stdout so a
script can capture it: `id=$(fleetjobs target add-database ...)`.
"""

from __future__ import annotations

import argparse

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import UsageError
from fleetjobs.cli._output import plural, timestamp
from fleetjobs.cli._values import options_dict, parse_option
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog


def register(commands: Subcommands) -> None:
    verbs = add_noun(
        commands, "target", help="databases and custom collections of them that jobs run on"
    )

    database = add_verb(
        verbs,
        "add-database",
        help="add a database target and print its id (New-AzureSqlJobDatabaseTarget)",
        handler=_add_database,
        service="catalog",
        description="Add a database target and print its id. Adding one that exists already "
        "prints the existing id.",
    )
    database.add_argument(
        "--engine", required=True, help="postgresql, mysql, sqlite, mssql or odbc"
    )
    database.add_argument("--server", default="", help="host name or IP (not for sqlite)")
    database.add_argument("--port", type=int, default=0, help="port (default: the engine's own)")
    database.add_argument(
        "--database",
        required=True,
        help="database name; for sqlite a path relative to FLEETJOBS_SQLITE_ROOT",
    )
    database.add_argument(
        "--option",
        metavar="KEY=VALUE",
        type=parse_option,
        action="extend",
        nargs="+",
        default=[],
        help="engine-specific connection settings (sslmode=require, driver=...); never a password",
    )
    database.add_argument("--request-id", default="", help="make a repeated add harmless")

    collection = add_verb(
        verbs,
        "create-collection",
        help="create a custom collection and print its id (New-AzureSqlJobTarget "
        "-CustomCollectionName)",
        handler=_create_collection,
        service="catalog",
    )
    collection.add_argument("name", metavar="NAME")
    collection.add_argument("--request-id", default="", help="make a repeated create harmless")

    for name, handler, help in (
        ("add-child", _add_child, "add a target to a collection (Add-AzureSqlJobChildTarget)"),
        (
            "remove-child",
            _remove_child,
            "remove a target from a collection (Remove-AzureSqlJobChildTarget)",
        ),
    ):
        child = add_verb(verbs, name, help=help, handler=handler, service="catalog")
        child.add_argument("collection", metavar="COLLECTION", help="the collection's name")
        child.add_argument("target_id", metavar="TARGET_ID", help="the child's id")

    listing = add_verb(
        verbs,
        "list",
        help="list targets, or a collection's children",
        handler=_list,
        service="catalog",
    )
    listing.add_argument(
        "--parent", metavar="ID", default="", help="only the children of this collection"
    )
    add_limit(listing)

    get = add_verb(verbs, "get", help="show one target", handler=_get, service="catalog")
    get.add_argument("target_id", metavar="ID")

    delete = add_verb(
        verbs, "delete", help="delete a target no job uses", handler=_delete, service="catalog"
    )
    delete.add_argument("target_id", metavar="ID")


def build_database_target(args: argparse.Namespace) -> resources.Target:
    try:
        options = options_dict(args.option)
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"--option: {error}") from None
    return resources.Target(
        database=resources.DatabaseTarget(
            engine=args.engine,
            server_name=args.server,
            port=args.port,
            database_name=args.database,
            options=options,
        )
    )


def describe(target: resources.Target) -> tuple[str, str]:
    """(kind, one-line description) of a target."""
    kind = target.WhichOneof("kind")
    if kind == "database":
        db = target.database
        options = " ".join(f"{k}={v}" for k, v in sorted(db.options.items()))
        where = (
            db.database_name
            if db.engine == "sqlite"
            else f"{_host(db.server_name, db.port)}/{db.database_name}"
        )
        return "database", f"{db.engine} {where}" + (f" [{options}]" if options else "")
    if kind == "custom_collection":
        return (
            "collection",
            f"{target.custom_collection.name} ({plural(target.child_count, 'child', 'children')})",
        )
    if kind == "shard_map":
        sm = target.shard_map
        where = f"{_host(sm.server_name, sm.port)}/{sm.database_name}"
        return "shard map", f"{sm.engine} {where} map {sm.shard_map_name}"
    if kind == "server":
        server = target.server
        return "server", f"{server.engine} {_host(server.server_name, server.port)}"
    return "unknown", ""


def _host(server: str, port: int) -> str:
    return f"{server}:{port}" if port else server


def _created(context: Context, response: catalog.CreateTargetResponse) -> int:
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(response.target.target_id)
    return 0


def _add_database(context: Context, args: argparse.Namespace) -> int:
    response: catalog.CreateTargetResponse = context.catalog.CreateTarget(
        catalog.CreateTargetRequest(target=build_database_target(args), request_id=args.request_id),
        timeout=context.timeout,
    )
    return _created(context, response)


def _create_collection(context: Context, args: argparse.Namespace) -> int:
    target = resources.Target(custom_collection=resources.CustomCollectionTarget(name=args.name))
    response: catalog.CreateTargetResponse = context.catalog.CreateTarget(
        catalog.CreateTargetRequest(target=target, request_id=args.request_id),
        timeout=context.timeout,
    )
    return _created(context, response)


def _add_child(context: Context, args: argparse.Namespace) -> int:
    response: catalog.AddChildTargetResponse = context.catalog.AddChildTarget(
        catalog.AddChildTargetRequest(
            custom_collection_name=args.collection, child_target_id=args.target_id
        ),
        timeout=context.timeout,
    )
    return _changed(context, response, f"added {args.target_id} to")


def _remove_child(context: Context, args: argparse.Namespace) -> int:
    response: catalog.RemoveChildTargetResponse = context.catalog.RemoveChildTarget(
        catalog.RemoveChildTargetRequest(
            custom_collection_name=args.collection, child_target_id=args.target_id
        ),
        timeout=context.timeout,
    )
    return _changed(context, response, f"removed {args.target_id} from")


def _changed(
    context: Context,
    response: catalog.AddChildTargetResponse | catalog.RemoveChildTargetResponse,
    what: str,
) -> int:
    if context.out.json:
        context.out.emit_json(response)
    else:
        collection = response.target
        context.out.line(
            f"{what} {collection.custom_collection.name} "
            f"({plural(collection.child_count, 'child', 'children')})"
        )
    return 0


def _list(context: Context, args: argparse.Namespace) -> int:
    response: catalog.ListTargetsResponse = list_all(
        lambda size, token: context.catalog.ListTargets(
            catalog.ListTargetsRequest(
                parent_target_id=args.parent, page_size=size, page_token=token
            ),
            timeout=context.timeout,
        ),
        "targets",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["id", "kind", "target"],
        ([t.target_id, *describe(t)] for t in response.targets),
        empty="no children" if args.parent else "no targets",
    )
    return 0


def _get(context: Context, args: argparse.Namespace) -> int:
    response: catalog.GetTargetResponse = context.catalog.GetTarget(
        catalog.GetTargetRequest(target_id=args.target_id), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    target = response.target
    kind, description = describe(target)
    pairs = [("id", target.target_id), ("kind", kind), ("target", description)]
    if kind == "database":
        db = target.database
        pairs += [
            ("engine", db.engine),
            ("server", db.server_name),
            ("port", str(db.port) if db.port else "(engine default)"),
            ("database", db.database_name),
        ]
        pairs += [(f"option {key}", value) for key, value in sorted(db.options.items())]
    elif kind == "custom_collection":
        pairs += [("children", str(target.child_count))]
    pairs.append(("created", timestamp(target.create_time)))
    context.out.fields(pairs)
    return 0


def _delete(context: Context, args: argparse.Namespace) -> int:
    response = context.catalog.DeleteTarget(
        catalog.DeleteTargetRequest(target_id=args.target_id), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"deleted target {args.target_id}")
    return 0
