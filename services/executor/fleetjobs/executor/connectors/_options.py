"""The connectors' half of the connection-options allow-list (docs/adr/0006).

The catalog refuses a target whose options are not on its engine's allow-list; a connector
checks again before it connects, because the control database may hold rows written before
the allow-list existed, and TestConnection takes a target straight from its caller. Here, in
order: the allow-list (`checked_options`), the files an option names (`require_files`), and
for ODBC the driver, which must be registered in odbcinst.ini on this host
(`require_registered_driver`). Each refuses with ScriptError(refused) before a byte is sent.
Unlike the allow-list's messages, a missing file's refusal quotes its path: a path is no
secret, and it is what the operator has to fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from fleetjobs.core.targets import OptionSet, option_problems, option_set
from fleetjobs.executor.connectors._support import refuse

__all__ = [
    "checked_options",
    "registered_drivers",
    "require_files",
    "require_registered_driver",
]

# The drivers registered in odbcinst on this host, as last read (see `registered_drivers`).
_registered: dict[str, list[str]] = {}


def checked_options(engine: str, options: Mapping[str, str]) -> OptionSet:
    """The allow-list `options` satisfy. Raises ScriptError(refused) naming every option that
    is not allowed or not valid."""
    problems = option_problems(engine, options)
    allowed = option_set(engine, options)
    if problems or allowed is None:
        texts = [problem.text() for problem in problems] or [f"unknown engine {engine!r}"]
        raise refuse("connection options refused: " + "; ".join(texts))
    return allowed


def require_files(allowed: OptionSet, options: Mapping[str, str]) -> None:
    """Raises ScriptError(refused) for an option that names a file (a CA bundle, a client
    certificate or key) this executor cannot read: no retry can make it appear."""
    for key, value in sorted(options.items()):
        name = allowed.lookup(key)
        if name is None or name not in allowed.files or not value or value == "system":
            continue  # "system": libpq's sslrootcert for the system's CA store
        if not os.path.isfile(value):
            raise refuse(f"option {key}: no file {value} on this executor")
        if not os.access(value, os.R_OK):
            raise refuse(f"option {key}: file {value} is not readable on this executor")


def require_registered_driver(driver: str, installed: Sequence[str]) -> None:
    """Raises ScriptError(refused) unless `driver` is the name of a driver registered in
    odbcinst.ini on this host: unixODBC loads any other value as a library path."""
    if driver not in installed:
        raise refuse(
            f"ODBC driver {driver!r} is not registered on this executor "
            f"(registered: {', '.join(installed) or 'none'})"
        )


def registered_drivers(pyodbc: Any, wanted: str = "") -> list[str]:
    """The ODBC drivers registered on this host. Read once per process, not once per attempt
    (it reads odbcinst.ini), and read again when `wanted` is not among them: a driver
    installed since the last read is found, and a name never registered is still refused."""
    known = _registered.get("drivers")
    if known is None or (wanted and wanted not in known):
        known = _registered["drivers"] = list(pyodbc.drivers())
    return known
