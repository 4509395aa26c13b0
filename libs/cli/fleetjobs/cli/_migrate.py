"""`fleetjobs migrate`: bring the control database to the newest schema.

The one command that is not an API client: it runs the migrations in this process against
FLEETJOBS_CONTROL_DB_URL, as `make up` does before the services start.
"""

from __future__ import annotations

import argparse
import json

from alembic.util import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from fleetjobs.cli._common import Subcommands, add_verb
from fleetjobs.cli._context import Context
from fleetjobs.cli._errors import CliError
from fleetjobs.core.config import CommonSettings
from fleetjobs.core.crypto import scrub
from fleetjobs.core.db import upgrade_to_head


def register(commands: Subcommands) -> None:
    add_verb(
        commands,
        "migrate",
        help="upgrade the control database (FLEETJOBS_CONTROL_DB_URL) to the newest schema",
        handler=_migrate,
        service="",
    )


def _migrate(context: Context, args: argparse.Namespace) -> int:
    url = CommonSettings.from_env().control_db_url
    shown = _without_password(url)
    try:
        revision = upgrade_to_head(url)
    except (SQLAlchemyError, CommandError, ImportError, OSError) as error:
        # A database that cannot be reached, a driver that is not installed, a file that
        # cannot be written: said in one line, with any password in the message masked.
        password = _password(url)
        raise CliError(
            f"cannot migrate {shown}: {scrub(str(error), [password] if password else [])}"
        ) from None
    if context.out.json:
        context.out.line(json.dumps({"url": shown, "revision": revision}, indent=2))
    else:
        context.out.line(f"control database {shown} is at revision {revision}")
    return 0


def _without_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unreadable FLEETJOBS_CONTROL_DB_URL)"


def _password(url: str) -> str:
    try:
        return make_url(url).password or ""
    except ArgumentError:
        return ""
