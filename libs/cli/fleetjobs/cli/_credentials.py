"""`fleetjobs credential`: New-, Set-, Get- and Remove-AzureSqlJobCredential.

Passwords never come from the command line, where process listings and shell history keep
them: they are read from stdin (--password-stdin), an environment variable (--password-env)
or a no-echo prompt, sealed here together with the allowed servers into a JWE for the
catalog's published key (docs/credentials.md), and sent only as `encrypted_password`. Changing
the allowed servers therefore needs the password again.
"""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Sequence
from typing import TextIO

from fleetjobs.cli._client import list_all
from fleetjobs.cli._common import Subcommands, add_limit, add_noun, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import CliError, UsageError
from fleetjobs.cli._output import timestamp
from fleetjobs.core.crypto import JWE_ALG, seal_credential
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog

_NO_PASSWORD = (
    "no password given: use --password-stdin or --password-env VAR "
    "(a password is never taken from the command line)"
)
_RE_ENTER = (
    "the allowed servers are sealed with the password: re-enter the password to change where "
    "it may go (--password-stdin or --password-env VAR)"
)


def register(commands: Subcommands) -> None:
    verbs = add_noun(
        commands, "credential", help="user names and passwords jobs connect to databases with"
    )

    create = add_verb(
        verbs,
        "create",
        help="create a credential (New-AzureSqlJobCredential)",
        handler=_create,
        service="catalog",
        description="Create a credential. The password is read from stdin, an environment "
        "variable or a prompt, and encrypted before it leaves this process.",
    )
    create.add_argument("name", metavar="NAME")
    create.add_argument("--username", required=True, help="the database user name")
    _password_flags(create)
    _allow_flag(create)
    create.add_argument("--request-id", default="", help="make a repeated create harmless")

    update = add_verb(
        verbs,
        "update",
        help="change the user name, rotate the password or replace the allowed servers "
        "(Set-AzureSqlJobCredential)",
        handler=_update,
        service="catalog",
        description="Change what is given and nothing else. --password-stdin on a terminal "
        "prompts without echo.",
    )
    update.add_argument("name", metavar="NAME")
    update.add_argument("--username", help="the new database user name")
    _password_flags(update)
    allow = update.add_mutually_exclusive_group()
    _allow_flag(allow)
    allow.add_argument(
        "--clear-allow", action="store_true", help="allow no network server any more"
    )

    get = add_verb(verbs, "get", help="show one credential", handler=_get, service="catalog")
    get.add_argument("name", metavar="NAME")

    listing = add_verb(verbs, "list", help="list credentials", handler=_list, service="catalog")
    add_limit(listing)

    delete = add_verb(
        verbs, "delete", help="delete a credential no job uses", handler=_delete, service="catalog"
    )
    delete.add_argument("name", metavar="NAME")


def _password_flags(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (a prompt on a terminal)",
    )
    source.add_argument(
        "--password-env", metavar="VAR", help="read the password from environment variable VAR"
    )


def _allow_flag(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup) -> None:
    parser.add_argument(
        "--allow",
        metavar="SERVER",
        action="extend",
        nargs="+",
        help="server names, IPs or globs (*.db.example.com) the credential may be sent to, on "
        "the engine's default port; HOST:PORT or HOST:* for other ports; without any it may be "
        "sent to no network server",
    )


def read_password(args: argparse.Namespace, stdin: TextIO, *, prompt: bool) -> str | None:
    """The password from the source given; a prompt when none is and `prompt` allows it.

    None when no source is given and `prompt` is false (an update that keeps the password).
    """
    if args.password_stdin:
        if stdin.isatty():
            return getpass.getpass("Password: ")
        line = stdin.readline()
        if not line:
            raise UsageError("--password-stdin: standard input is empty")
        return line.removesuffix("\n").removesuffix("\r")
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise UsageError(f"--password-env: environment variable {args.password_env} is not set")
        return value
    if not prompt:
        return None
    if not stdin.isatty():
        raise UsageError(_NO_PASSWORD)
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise UsageError("the passwords do not match")
    return first


def encrypt_password(context: Context, password: str, allowed_servers: list[str]) -> str:
    """A JWE sealing the password with ``allowed_servers``, for the key the catalog publishes
    now."""
    response: catalog.GetEncryptionKeyResponse = context.catalog.GetEncryptionKey(
        catalog.GetEncryptionKeyRequest(), timeout=context.timeout
    )
    key = response.encryption_key
    if key.algorithm and key.algorithm != JWE_ALG:
        raise CliError(
            f"the catalog publishes a {key.algorithm} key; this fleetjobs encrypts with {JWE_ALG}"
        )
    try:
        return seal_credential(password, allowed_servers, key.public_key_pem, key.key_id)
    except ValueError as error:
        # The message is about the key or the list's shape (never the password): a bad PEM,
        # an empty key id, a repeated or 257th server.
        raise CliError(f"cannot encrypt with the catalog's key {key.key_id!r}: {error}") from None


def build_update(
    args: argparse.Namespace,
    encrypted_password: str | None,
    sealed_servers: Sequence[str] | None = None,
) -> catalog.UpdateCredentialRequest:
    """The credential with what was given, and an update_mask naming exactly that.

    `sealed_servers`: the list a new `encrypted_password` seals. It is always sent with it, so
    the stored list becomes the sealed one even if someone changed the list in between."""
    credential = resources.Credential(name=args.name)
    paths: list[str] = []
    if args.username is not None:
        credential.username = args.username
        paths.append("username")
    if encrypted_password is not None:
        credential.encrypted_password = encrypted_password
        paths.append("encrypted_password")
    if sealed_servers is not None:
        credential.allowed_servers.extend(sealed_servers)
        paths.append("allowed_servers")
    elif args.allow is not None or args.clear_allow:
        credential.allowed_servers.extend(args.allow or [])
        paths.append("allowed_servers")
    if not paths:
        raise UsageError(
            "nothing to update: give --username, --password-stdin, --password-env, --allow "
            "or --clear-allow"
        )
    request = catalog.UpdateCredentialRequest(credential=credential)
    request.update_mask.paths.extend(paths)
    return request


def _create(context: Context, args: argparse.Namespace) -> int:
    password = read_password(args, context.stdin, prompt=True)
    assert password is not None  # prompt=True never returns None
    allowed = _distinct(args.allow or [])
    credential = resources.Credential(
        name=args.name,
        username=args.username,
        encrypted_password=encrypt_password(context, password, allowed),
        allowed_servers=allowed,
    )
    response: catalog.CreateCredentialResponse = context.catalog.CreateCredential(
        catalog.CreateCredentialRequest(credential=credential, request_id=args.request_id),
        timeout=context.timeout,
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"created credential {response.credential.name}")
    if not args.allow:
        context.out.note(
            "note: no --allow, so this credential is sent to no network server (SQLite only); "
            "add servers with `fleetjobs credential update NAME --allow SERVER ...`"
        )
    return 0


def _update(context: Context, args: argparse.Namespace) -> int:
    """A new list needs the password (read, or prompted for on a terminal); a new password
    alone is sealed with the list the catalog holds now."""
    new_list = args.allow is not None or args.clear_allow
    given = args.password_stdin or args.password_env
    if new_list and not given and not context.stdin.isatty():
        raise UsageError(_RE_ENTER)
    password = read_password(args, context.stdin, prompt=new_list)
    encrypted, allowed = None, None
    if password is not None:
        allowed = _distinct(args.allow or []) if new_list else _stored_servers(context, args.name)
        encrypted = encrypt_password(context, password, allowed)
    response: catalog.UpdateCredentialResponse = context.catalog.UpdateCredential(
        build_update(args, encrypted, allowed), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"updated credential {response.credential.name}")
    return 0


def _distinct(servers: Sequence[str]) -> list[str]:
    # `--allow a b a` means a and b: a sealed list names each server once.
    return list(dict.fromkeys(servers))


def _stored_servers(context: Context, name: str) -> list[str]:
    response: catalog.GetCredentialResponse = context.catalog.GetCredential(
        catalog.GetCredentialRequest(name=name), timeout=context.timeout
    )
    return list(response.credential.allowed_servers)


def _get(context: Context, args: argparse.Namespace) -> int:
    response: catalog.GetCredentialResponse = context.catalog.GetCredential(
        catalog.GetCredentialRequest(name=args.name), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    credential = response.credential
    context.out.fields(
        [
            ("name", credential.name),
            ("username", credential.username),
            ("allowed servers", _allowed(credential)),
            ("key id", credential.key_id),
            ("created", timestamp(credential.create_time)),
            ("updated", timestamp(credential.update_time)),
        ]
    )
    return 0


def _list(context: Context, args: argparse.Namespace) -> int:
    response: catalog.ListCredentialsResponse = list_all(
        lambda size, token: context.catalog.ListCredentials(
            catalog.ListCredentialsRequest(page_size=size, page_token=token),
            timeout=context.timeout,
        ),
        "credentials",
        limit=args.limit,
    )
    if context.out.json:
        context.out.emit_json(response)
        return 0
    context.out.table(
        ["name", "username", "allowed servers", "updated"],
        ([c.name, c.username, _allowed(c), timestamp(c.update_time)] for c in response.credentials),
        empty="no credentials",
    )
    return 0


def _delete(context: Context, args: argparse.Namespace) -> int:
    response = context.catalog.DeleteCredential(
        catalog.DeleteCredentialRequest(name=args.name), timeout=context.timeout
    )
    if context.out.json:
        context.out.emit_json(response)
    else:
        context.out.line(f"deleted credential {args.name}")
    return 0


def _allowed(credential: resources.Credential) -> str:
    return ", ".join(credential.allowed_servers) or "(none: no network server)"
