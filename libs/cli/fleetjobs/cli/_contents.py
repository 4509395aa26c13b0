"""`fleetjobs content`: New-AzureSqlJobContent, Set-AzureSqlJobContentDefinition and friends.

A content is a named script; updating it adds a version and keeps the old ones.
"""

from __future__ import annotations

import argparse

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import CliError
from fleetjobs.cli._output import clip, timestamp
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog


def register(commands: Subcommands) -> None:
    verbs = add_noun(commands, "content", help="named, versioned SQL scripts jobs run")

    create = add_verb(
        verbs,
        "create",
        help="create a content, version 1 (New-AzureSqlJobContent)",
        handler=_create,
        service="catalog",
    )
    create.add_argument("name", metavar="NAME")
    _script_flags(create)
    create.add_argument("--request-id", default="", help="make a repeated create harmless")

    update = add_verb(
        verbs,
        "update",
        help="add a new version of the script (Set-AzureSqlJobContentDefinition)",
        handler=_update,
        service="catalog",
    )
    update.add_argument("name", metavar="NAME")
    _script_flags(update)

    get = add_verb(
        verbs,
        "get",
        help="print a version's script (Get-AzureSqlJobContentDefinition)",
        handler=_get,
        service="catalog",
        description="Print the script exactly as stored, so `content get NAME > file.sql` "
        "gives the file back; --json shows the version, comment and times too.",
    )
    get.add_argument("name", metavar="NAME")
    get.add_argument(
        "--version", type=int, default=0, metavar="N", help="the version (default: the latest)"
    )

    listing = add_verb(
        verbs, "list", help="list contents, latest versions", handler=_list, service="catalog"
    )
    add_limit(listing)

    versions = add_verb(
        verbs, "versions", help="list a content's versions", handler=_versions, service="catalog"
    )
    versions.add_argument("name", metavar="NAME")
    add_limit(versions)

    delete = add_verb(
        verbs,
        "delete",
        help="delete a content and its versions; no job may use it",
        handler=_delete,
        service="catalog",
    )
    delete.add_argument("name", metavar="NAME")


def _script_flags(parser: argparse.ArgumentParser) -> None:
    script = parser.add_mutually_exclusive_group(required=True)
    script.add_argument("--file", metavar="FILE", help="read the script from FILE ('-': stdin)")
    script.add_argument("--text", metavar="SQL", help="the script itself")
    parser.add_argument("--comment", default="", help="a comment on this version")


def read_script(context: Context, args: argparse.Namespace) -> str:
    if args.text is not None:
        return str(args.text)
    if args.file == "-":
        return context.stdin.read()
    try:
        # newline="" keeps the file's own line ends; utf-8-sig drops a BOM editors add.
        with open(args.file, encoding="utf-8-sig", newline="") as script:
            return script.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CliError(f"cannot read {args.file}: {error}") from None


def _create(context: Context, args: argparse.Namespace) -> int:
    content = resources.Content(
        name=args.name,
        comment=args.comment,
        script=resources.Script(command_text=read_script(context, args)),
    )
    response: catalog.CreateContentResponse = context.catalog.CreateContent(
        catalog.CreateContentRequest(content=content, request_id=args.request_id),
        timeout=context.timeout,
    )
    return _done(context, response, response.content, "created")


def _update(context: Context, args: argparse.Namespace) -> int:
    response: catalog.UpdateContentDefinitionResponse = context.catalog.UpdateContentDefinition(
        catalog.UpdateContentDefinitionRequest(
            name=args.name,
            script=resources.Script(command_text=read_script(context, args)),
            comment=args.comment,
        ),
        timeout=context.timeout,
    )
    return _done(context, response, response.content, "updated")


def _done(
    context: Context,
    response: catalog.CreateContentResponse | catalog.UpdateContentDefinitionResponse,
    content: resources.Content,
    verb: str,
) -> int:
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"{verb} content {content.name}, version {content.version}")
    return 0


def _get(context: Context, args: argparse.Namespace) -> int:
    response: catalog.GetContentResponse = context.catalog.GetContent(
        catalog.GetContentRequest(name=args.name, version=args.version), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    text = response.content.script.command_text
    stdout = context.out.stdout
    stdout.write(text)
    # The script exactly as stored; only a terminal gets a final newline it lacks.
    if text and not text.endswith("\n") and stdout.isatty():
        stdout.write("\n")
    stdout.flush()
    return 0


def _list(context: Context, args: argparse.Namespace) -> int:
    response: catalog.ListContentsResponse = list_all(
        lambda size, token: context.catalog.ListContents(
            catalog.ListContentsRequest(page_size=size, page_token=token),
            timeout=context.timeout,
        ),
        "contents",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["name", "version", "created", "comment"],
        (
            [c.name, str(c.version), timestamp(c.create_time), clip(c.comment)]
            for c in response.contents
        ),
        empty="no contents",
    )
    return 0


def _versions(context: Context, args: argparse.Namespace) -> int:
    response: catalog.ListContentVersionsResponse = list_all(
        lambda size, token: context.catalog.ListContentVersions(
            catalog.ListContentVersionsRequest(name=args.name, page_size=size, page_token=token),
            timeout=context.timeout,
        ),
        "contents",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["version", "created", "comment"],
        ([str(c.version), timestamp(c.create_time), clip(c.comment)] for c in response.contents),
        empty=f"content {args.name} has no versions",
    )
    return 0


def _delete(context: Context, args: argparse.Namespace) -> int:
    response = context.catalog.DeleteContent(
        catalog.DeleteContentRequest(name=args.name), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"deleted content {args.name}")
    return 0
