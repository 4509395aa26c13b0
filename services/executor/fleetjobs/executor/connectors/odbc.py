"""Any database with an ODBC driver, through pyodbc.

The target's options name the driver (`driver`: a name registered in odbcinst.ini on this
host, never a path); SERVER, PORT, DATABASE, UID and PWD come from the address and the login.
Other options are passed on only when the allow-list of the driver's family holds them
(docs/adr/0006; e.g. MariaDB Connector/ODBC's `OPTION=67108864`, which it needs before it
accepts several statements in one call). A data source name (`dsn`) is refused: what it
points at is not the target's server.

pyodbc is imported on first use (see `_support.load_pyodbc`), so a host without libodbc
only loses this engine and SQL Server.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fleetjobs.core.crypto import scrub
from fleetjobs.core.targets import odbc_family
from fleetjobs.executor.connectors._base import (
    Availability,
    DatabaseAddress,
    Login,
    ResultSet,
    ScriptError,
    ScriptOutcome,
)
from fleetjobs.executor.connectors._local_infile import contains_local_infile
from fleetjobs.executor.connectors._messages import MessageCollector
from fleetjobs.executor.connectors._options import (
    checked_options,
    registered_drivers,
    require_files,
    require_registered_driver,
)
from fleetjobs.executor.connectors._support import (
    Deadline,
    build_result_set,
    classify_mysql_errno,
    classify_sqlstate,
    connect_timeout,
    load_pyodbc,
    odbc_connection_string,
    odbc_messages,
    python_type_to_canonical,
    refuse,
)

__all__ = ["OdbcConnector", "build_odbc_connection_string", "classify_odbc_error"]

# The MariaDB / MySQL Connector/ODBC family, whose driver reads a LOCAL INFILE's file on this
# host (docs/adr/0006, "Scripts that read executor files").
_MARIADB_FAMILY = odbc_family("MariaDB Unicode")
LOCAL_INFILE_REFUSED = (
    "LOAD DATA LOCAL INFILE is refused: the MariaDB ODBC driver would read the file from the "
    "executor host; load the file on the database server (LOAD DATA INFILE) or use the mysql "
    "engine"
)
# Options fleetjobs reads itself rather than passing on.
_OWN_OPTIONS = frozenset({"driver", "connect_timeout"})
_PASSWORD_KEYS = frozenset({"PWD"})

# pyodbc appends the native error code and the ODBC function: "… (1064) (SQLExecDirectW)".
_NATIVE_CODE = re.compile(r"\((-?\d+)\) \(SQL\w+\)\s*$")
# SQL Server's native error numbers, for when its SQLSTATE (often 42000) says too little.
_SQLSERVER_ERRORS: dict[int, str] = {
    102: "syntax_error",
    105: "syntax_error",
    156: "syntax_error",
    170: "syntax_error",
    207: "undefined_object",
    208: "undefined_object",
    2812: "undefined_object",
    229: "permission_denied",
    230: "permission_denied",
    262: "permission_denied",
    297: "permission_denied",
    300: "permission_denied",
    916: "permission_denied",
    8134: "division_by_zero",
    4060: "invalid_database",
    911: "invalid_database",
    18456: "authentication_error",
}
# Last resort, in order: what the database's own message says.
_MESSAGE_CLASSES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("division by zero", "division by 0", "divide by zero"), "division_by_zero"),
    (("syntax",), "syntax_error"),
    (
        ("doesn't exist", "does not exist", "unknown column", "invalid object name"),
        "undefined_object",
    ),
    (("denied", "permission"), "permission_denied"),
)


def build_odbc_connection_string(address: DatabaseAddress, login: Login | None) -> str:
    """The connection string for a target. Raises ScriptError(refused) for options the
    allow-list of the driver's family does not hold (docs/adr/0006).

    Allowed options are written under the driver's own spelling, after the address and the
    login, with values the allow-list already confined to characters that need no quoting.
    """
    options = address.options
    allowed = checked_options("odbc", options)
    require_files(allowed, options)
    pairs: list[tuple[str, str]] = [("DRIVER", _driver(options))]
    if address.server_name:
        pairs.append(("SERVER", address.server_name))
    if address.port:
        pairs.append(("PORT", str(address.port)))
    if address.database_name:
        pairs.append(("DATABASE", address.database_name))
    if login is not None:
        pairs.append(("UID", login.username))
        pairs.append(("PWD", login.password))
    for key, value in sorted(options.items()):
        name = allowed.lookup(key)
        if name is not None and name.lower() not in _OWN_OPTIONS:
            pairs.append((name, value))
    return odbc_connection_string(pairs, secret_keys=_PASSWORD_KEYS)


def _driver(options: Mapping[str, str]) -> str:
    return next(value for key, value in options.items() if key.lower() == "driver")


def classify_odbc_error(sqlstate: str, message: str) -> str:
    """An error class from the SQLSTATE pyodbc reports and, where that is too coarse, the
    native error number of the database behind the driver."""
    native_match = _NATIVE_CODE.search(message)
    native = int(native_match.group(1)) if native_match else 0
    lowered = message.lower()
    if native > 0 and ("[ma-" in lowered or "mysql" in lowered or "mariadb" in lowered):
        from_native = classify_mysql_errno(native)
        if from_native != "other":
            return from_native
    if native > 0 and ("sql server" in lowered or "freetds" in lowered):
        from_native = _SQLSERVER_ERRORS.get(native, "other")
        if from_native != "other":
            return from_native
    error_class = classify_sqlstate(sqlstate)
    if error_class == "connection_error" and re.search(r'database ".*" does not exist', message):
        # psqlODBC reports PostgreSQL's start-up FATAL as 08001.
        return "invalid_database"
    if error_class == "other":
        # SQLSTATE 42000 covers both syntax and access errors, and MariaDB Connector/ODBC
        # reports a failure in a later statement of a script as HY000 with no native code:
        # the text is all that is left to go on.
        for fragments, text_class in _MESSAGE_CLASSES:
            if any(fragment in lowered for fragment in fragments):
                return text_class
    return error_class


def odbc_error(error: Exception, secrets: Sequence[str]) -> ScriptError:
    """A pyodbc error as a ScriptError, driver-manager refusals marked as such."""
    args = error.args
    if len(args) >= 2:
        sqlstate, message = str(args[0]), str(args[1])
    else:
        sqlstate, message = "", str(error)
    # Classified on the raw text: scrubbing may mask fragments the classification reads.
    # IMxxx, or unixODBC's "Can't open lib": the driver manager found no such DSN or driver.
    # Nothing reached a database and no retry can install a driver.
    if sqlstate.upper().startswith("IM") or "can't open lib" in message.lower():
        error_class, refused = "refused", True
    else:
        error_class, refused = classify_odbc_error(sqlstate, message), False
    return ScriptError(
        scrub(message, secrets), error_class=error_class, sqlstate=sqlstate, refused=refused
    )


def run_batches(
    pyodbc: Any,
    connection_string: str,
    batches: Sequence[str],
    *,
    timeout_seconds: float,
    login_timeout: int,
    secrets: Sequence[str],
) -> ScriptOutcome:
    """Runs batches in order on one autocommit connection; keeps the first result set any
    batch produced and every informational message."""
    connection = odbc_connect(pyodbc, connection_string, login_timeout, secrets)
    messages = MessageCollector(secrets=secrets)
    try:
        cursor = connection.cursor()
        deadline = Deadline(timeout_seconds, cursor.cancel)
        first: ResultSet | None = None
        try:
            with deadline:
                for batch in batches:
                    if deadline.expired:
                        raise deadline.error(messages=messages.messages())
                    first = _run_batch(cursor, batch, first, messages.extend)
        except pyodbc.Error as error:
            if deadline.expired:
                detail = odbc_error(error, secrets).message
                raise deadline.error(detail, messages.messages()) from None
            failure = odbc_error(error, secrets)
            messages.extend(failure.messages)
            failure.messages = messages.messages()
            raise failure from None
        return ScriptOutcome(first_result_set=first, messages=messages.messages())
    finally:
        _close(pyodbc, connection)


def odbc_connect(
    pyodbc: Any, connection_string: str, login_timeout: int, secrets: Sequence[str]
) -> Any:
    try:
        return pyodbc.connect(connection_string, autocommit=True, timeout=login_timeout)
    except pyodbc.Error as error:
        # `from None`: the driver's exception could carry an unscrubbed message into a
        # logged traceback.
        raise odbc_error(error, secrets) from None


def odbc_server_version(
    pyodbc: Any, connection_string: str, login_timeout: int, secrets: Sequence[str]
) -> str:
    connection = odbc_connect(pyodbc, connection_string, login_timeout, secrets)
    try:
        name = connection.getinfo(pyodbc.SQL_DBMS_NAME)
        version = connection.getinfo(pyodbc.SQL_DBMS_VER)
    except pyodbc.Error as error:
        raise odbc_error(error, secrets) from None
    finally:
        _close(pyodbc, connection)
    return f"{name} {version}"


def _run_batch(
    cursor: Any,
    batch: str,
    first: ResultSet | None,
    add_messages: Callable[[list[str]], None],
) -> ResultSet | None:
    cursor.execute(batch)
    add_messages(odbc_messages(cursor))
    while True:
        if first is None and cursor.description is not None:
            names = [column[0] for column in cursor.description]
            types = [python_type_to_canonical(column[1]) for column in cursor.description]
            first = build_result_set(names, types, cursor.fetchall())
        if not cursor.nextset():
            return first
        add_messages(odbc_messages(cursor))


def _close(pyodbc: Any, connection: Any) -> None:
    # Already gone: the deadline cancelled it or the server dropped it.
    with contextlib.suppress(pyodbc.Error):
        connection.close()


class OdbcConnector:
    engine = "odbc"

    def availability(self) -> Availability:
        pyodbc, problem = load_pyodbc()
        if pyodbc is None:
            return Availability(self.engine, driver="pyodbc", available=False, detail=problem)
        try:
            drivers = list(pyodbc.drivers())
        except pyodbc.Error as error:
            drivers, problem = [], f"listing ODBC drivers failed: {error}"
        detail = problem or (
            f"ODBC drivers: {', '.join(drivers)}" if drivers else "no ODBC drivers installed"
        )
        return Availability(
            self.engine, driver=f"pyodbc {pyodbc.version}", available=True, detail=detail
        )

    def run_script(
        self, address: DatabaseAddress, login: Login | None, script: str, *, timeout_seconds: float
    ) -> ScriptOutcome:
        pyodbc = _require_pyodbc()
        connection_string = build_odbc_connection_string(address, login)
        driver = _driver(address.options)
        require_registered_driver(driver, registered_drivers(pyodbc, driver))
        refuse_local_infile(driver, script)
        return run_batches(
            pyodbc,
            connection_string,
            [script] if script.strip() else [],
            timeout_seconds=timeout_seconds,
            login_timeout=connect_timeout(_lower_keys(address.options)),
            secrets=_secrets(login),
        )

    def server_version(self, address: DatabaseAddress, login: Login | None) -> str:
        pyodbc = _require_pyodbc()
        connection_string = build_odbc_connection_string(address, login)
        driver = _driver(address.options)
        require_registered_driver(driver, registered_drivers(pyodbc, driver))
        return odbc_server_version(
            pyodbc,
            connection_string,
            connect_timeout(_lower_keys(address.options)),
            _secrets(login),
        )


def refuse_local_infile(driver: str, script: str) -> None:
    """Raises ScriptError(refused) for a script a MariaDB or MySQL ODBC driver would answer
    by reading a file of this host: the driver has no option to stop it (docs/adr/0006)."""
    if odbc_family(driver) is _MARIADB_FAMILY and contains_local_infile(script):
        raise refuse(LOCAL_INFILE_REFUSED)


def _require_pyodbc() -> Any:
    pyodbc, problem = load_pyodbc()
    if pyodbc is None:
        raise refuse(problem)
    return pyodbc


def _lower_keys(options: Mapping[str, str]) -> dict[str, str]:
    return {key.lower(): value for key, value in options.items()}


def _secrets(login: Login | None) -> list[str]:
    return [login.password] if login is not None and login.password else []
