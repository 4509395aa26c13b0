"""MySQL and MariaDB through PyMySQL.

The whole script goes to the server in one COM_QUERY with CLIENT_MULTI_STATEMENTS, so the
server parses statement boundaries (stored-procedure bodies included; the mysql client's
`DELIMITER` command is a client-side convention and is not understood). Each statement
commits on its own (autocommit) and execution stops at the first failing statement, whose
error surfaces when `nextset()` reaches it.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pymysql
from pymysql.constants import CLIENT, FIELD_TYPE

from fleetjobs.core.crypto import scrub
from fleetjobs.core.sql import CanonicalType
from fleetjobs.executor.connectors._base import (
    Availability,
    DatabaseAddress,
    Login,
    ResultSet,
    ScriptError,
    ScriptOutcome,
)
from fleetjobs.executor.connectors._messages import MessageCollector
from fleetjobs.executor.connectors._options import checked_options, require_files
from fleetjobs.executor.connectors._sessions import report_session
from fleetjobs.executor.connectors._support import (
    Deadline,
    build_result_set,
    classify_mysql_errno,
    connect_timeout,
    refuse,
)

__all__ = ["MysqlConnector", "mysql_type_to_canonical"]

DEFAULT_PORT = 3306
# "Unknown thread id" of KILL.
_ER_NO_SUCH_THREAD = 1094
# The attempt's start was stamped by another executor's clock.
_CLOCK_SKEW_SECONDS = 5.0
PROGRAM_NAME = "fleetjobs"
# The collation id MySQL gives binary strings: a BLOB/VARBINARY with it holds bytes, any other
# collation means text.
BINARY_CHARSET = 63
# SHOW WARNINGS is bounded: a script that warns on every row of a big UPDATE must not turn
# its messages into a second result set.
MAX_WARNINGS = 100
_EMPTY_QUERY = 1065
# The backstop for a dead network: the deadline kills the query first, so a socket read
# waiting this much longer than the script's timeout means the server is unreachable.
_READ_TIMEOUT_MARGIN_SECONDS = 30

_INTEGER_TYPES = {
    FIELD_TYPE.TINY,
    FIELD_TYPE.SHORT,
    FIELD_TYPE.LONG,
    FIELD_TYPE.LONGLONG,
    FIELD_TYPE.INT24,
    FIELD_TYPE.YEAR,
    FIELD_TYPE.BIT,
}
_STRING_TYPES = {
    FIELD_TYPE.VARCHAR,
    FIELD_TYPE.VAR_STRING,
    FIELD_TYPE.STRING,
    FIELD_TYPE.TINY_BLOB,
    FIELD_TYPE.MEDIUM_BLOB,
    FIELD_TYPE.LONG_BLOB,
    FIELD_TYPE.BLOB,
}
_FIXED_TYPES: dict[int, CanonicalType] = {
    FIELD_TYPE.FLOAT: CanonicalType.FLOAT,
    FIELD_TYPE.DOUBLE: CanonicalType.FLOAT,
    FIELD_TYPE.DECIMAL: CanonicalType.DECIMAL,
    FIELD_TYPE.NEWDECIMAL: CanonicalType.DECIMAL,
    FIELD_TYPE.DATE: CanonicalType.DATE,
    FIELD_TYPE.NEWDATE: CanonicalType.DATE,
    FIELD_TYPE.TIME: CanonicalType.TIME,
    FIELD_TYPE.DATETIME: CanonicalType.TIMESTAMP,
    FIELD_TYPE.TIMESTAMP: CanonicalType.TIMESTAMP,
    FIELD_TYPE.GEOMETRY: CanonicalType.BINARY,
    # MySQL's JSON is sent with the binary collation, but it is text.
    FIELD_TYPE.JSON: CanonicalType.TEXT,
}

_SSL_MODES = ("disabled", "preferred", "required", "verify_ca", "verify_identity")


def mysql_type_to_canonical(type_code: int, charsetnr: int | None = None) -> CanonicalType:
    """The canonical type of a result column from its FIELD_TYPE code and collation id.

    Without a collation id (None) a string column counts as text.
    """
    if type_code in _INTEGER_TYPES:
        return CanonicalType.INTEGER
    if type_code in _FIXED_TYPES:
        return _FIXED_TYPES[type_code]
    if type_code in _STRING_TYPES and charsetnr == BINARY_CHARSET:
        return CanonicalType.BINARY
    # Text, ENUM, SET, NULL (a bare `SELECT NULL`) and anything newer than this table.
    return CanonicalType.TEXT


class MysqlConnector:
    engine = "mysql"

    def availability(self) -> Availability:
        return Availability(
            engine=self.engine,
            driver=f"PyMySQL {pymysql.VERSION_STRING}",
            available=True,
        )

    def run_script(
        self, address: DatabaseAddress, login: Login | None, script: str, *, timeout_seconds: float
    ) -> ScriptOutcome:
        params = connection_parameters(address, login)
        params["read_timeout"] = timeout_seconds + _READ_TIMEOUT_MARGIN_SECONDS
        secrets = _secrets(login)
        connection = _connect(params, secrets)
        thread_id = connection.thread_id()
        # The server would run on after this executor died: whoever takes the attempt over
        # ends this session first (the `_sessions` module).
        report_session(str(thread_id))
        deadline = Deadline(timeout_seconds, lambda: _kill(params, thread_id))
        try:
            try:
                with deadline, connection.cursor() as cursor:
                    first = _run(cursor, script)
                    messages = _warnings(cursor, secrets)
            except pymysql.Error as error:
                if deadline.expired:
                    raise deadline.error(_message(error, secrets)) from None
                raise _script_error(error, secrets) from None
            if deadline.expired:
                # KILL can land without an error reaching us (a killed SLEEP() returns 1),
                # so whatever came back may be cut short.
                raise deadline.error()
            return ScriptOutcome(first_result_set=first, messages=messages)
        finally:
            _close(connection)

    def end_orphaned_session(
        self,
        address: DatabaseAddress,
        login: Login | None,
        session_id: str,
        *,
        running_since: datetime,
    ) -> bool:
        params = connection_parameters(address, login)
        secrets = _secrets(login)
        try:
            thread_id = int(session_id)
        except ValueError:
            return False
        try:
            with _side_connection(params) as cursor:
                # Thread ids start again at a restart: a server up for less time than the
                # script has been running is not the one it ran on.
                cursor.execute("SHOW GLOBAL STATUS LIKE 'Uptime'")
                uptime = cursor.fetchone()
                running = (datetime.now(UTC) - running_since).total_seconds()
                if uptime is None or float(uptime[1]) + _CLOCK_SKEW_SECONDS < running:
                    return False
                # And only a session of the same login on the same database.
                cursor.execute(
                    "SELECT ID FROM information_schema.PROCESSLIST "
                    "WHERE ID = %s AND USER = %s AND DB <=> %s",
                    (thread_id, params.get("user") or "", params["database"]),
                )
                if cursor.fetchone() is None:
                    return False
                cursor.execute(f"KILL CONNECTION {thread_id}")
        except pymysql.Error as error:
            if error.args and error.args[0] == _ER_NO_SUCH_THREAD:
                return False  # it ended between the look and the kill
            raise _script_error(error, secrets) from None
        except (OSError, ssl.SSLError) as error:
            raise ScriptError(scrub(str(error), secrets), error_class="connection_error") from None
        return True

    def server_version(self, address: DatabaseAddress, login: Login | None) -> str:
        secrets = _secrets(login)
        connection = _connect(connection_parameters(address, login), secrets)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT VERSION()")
                row = cursor.fetchone()
        except pymysql.Error as error:
            raise _script_error(error, secrets) from None
        finally:
            _close(connection)
        return str(row[0]) if row else ""


def connection_parameters(address: DatabaseAddress, login: Login | None) -> dict[str, Any]:
    """PyMySQL's connect() arguments for a target. Raises ScriptError(refused)."""
    options = address.options
    # The allow-list (docs/adr/0006): no unix_socket, host, read_default_file or password.
    require_files(checked_options("mysql", options), options)
    params: dict[str, Any] = {
        "host": address.server_name or "localhost",
        "port": address.port or DEFAULT_PORT,
        "database": address.database_name or None,
        "client_flag": CLIENT.MULTI_STATEMENTS,
        "autocommit": True,
        "charset": _charset(options),
        "connect_timeout": connect_timeout(options),
        "program_name": PROGRAM_NAME,
        # LOAD DATA LOCAL INFILE would let a script read the executor's own files.
        "local_infile": False,
        # Never read ~/.my.cnf: a target is described by its address only.
        "read_default_file": None,
    }
    params.update(_tls_parameters(options))
    if login is not None:
        params["user"] = login.username
        params["password"] = login.password
    return params


def _charset(options: Mapping[str, str]) -> str:
    name = options.get("charset") or "utf8mb4"
    # PyMySQL fails on an unknown name with an AttributeError deep inside connect().
    if pymysql.charset.charset_by_name(name) is None:
        raise refuse(f"option charset: {name!r} is not a character set PyMySQL knows")
    return name


def _tls_parameters(options: Mapping[str, str]) -> dict[str, Any]:
    """The MySQL client's --ssl-mode, onto PyMySQL. `ssl` is accepted as another name.

    Raises ScriptError(refused) naming the option whose file is not a usable CA bundle,
    certificate or key: no retry can mend it.
    """
    mode = (options.get("ssl_mode") or options.get("ssl") or "preferred").strip().lower()
    if mode not in _SSL_MODES:
        raise refuse(f"option ssl_mode must be one of {', '.join(_SSL_MODES)}, not {mode!r}")
    ca, cert, key = options.get("ssl_ca"), options.get("ssl_cert"), options.get("ssl_key")
    if mode == "disabled":
        return {"ssl_disabled": True}
    if mode == "preferred":
        if ca or cert or key:
            raise refuse("ssl_ca, ssl_cert and ssl_key need ssl_mode required or verify_*")
        # PyMySQL's own default: TLS when the server offers it, unverified.
        return {}
    try:
        context = ssl.create_default_context(cafile=ca or None)
    except (OSError, ssl.SSLError) as error:
        raise refuse(f"option ssl_ca: {ca} is not a usable CA file: {_reason(error)}") from None
    if mode == "required":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED if ca else ssl.CERT_NONE
    elif mode == "verify_ca":
        context.check_hostname = False
    if cert:
        try:
            context.load_cert_chain(cert, keyfile=key or None, password=_no_pass_phrase)
        except (OSError, ssl.SSLError) as error:
            raise refuse(
                f"options ssl_cert / ssl_key: {cert} and {key or 'its key'} are not a usable "
                f"certificate and key: {_reason(error)}"
            ) from None
    return {"ssl": context}


def _no_pass_phrase() -> bytes:
    # Without it OpenSSL would prompt on the terminal for an encrypted key's pass phrase.
    return b""


def _reason(error: OSError | ssl.SSLError) -> str:
    # An encrypted key makes OpenSSL ask for a pass phrase it does not have; never the key.
    return str(getattr(error, "reason", None) or error.strerror or type(error).__name__)


def _connect(params: Mapping[str, Any], secrets: list[str]) -> pymysql.connections.Connection:
    try:
        return pymysql.connect(**_driver_arguments(params))
    except pymysql.Error as error:
        raise _script_error(error, secrets) from None
    except (OSError, ssl.SSLError) as error:
        raise ScriptError(scrub(str(error), secrets), error_class="connection_error") from None


def _driver_arguments(params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with the password as UTF-8 bytes. Raises ScriptError(refused).

    PyMySQL encodes a str password as Latin-1, which fails on `€` (and the failure's repr
    carries the password). The server hashes the bytes of the password as it was given in
    CREATE USER / SET PASSWORD, which are UTF-8 over a utf8mb4 connection and from the mysql
    client on a UTF-8 terminal; so the bytes sent are UTF-8 too.
    """
    arguments = dict(params)
    password = arguments.get("password")
    if isinstance(password, str):
        try:
            arguments["password"] = password.encode("utf-8")
        except UnicodeEncodeError:
            # Only lone surrogates fail, which no server can have been given. No position or
            # character in the message: both would tell something about the password.
            raise refuse("the password cannot be sent: it is not valid Unicode text") from None
    return arguments


def _run(cursor: pymysql.cursors.Cursor, script: str) -> ResultSet | None:
    try:
        cursor.execute(script)
    except pymysql.err.OperationalError as error:
        # A script of comments only or of bare semicolons: nothing ran, nothing failed.
        if error.args and error.args[0] == _EMPTY_QUERY:
            return None
        raise
    first: ResultSet | None = None
    while True:
        if first is None and cursor.description is not None:
            first = _result_set(cursor)
        if not cursor.nextset():
            return first


def _result_set(cursor: pymysql.cursors.Cursor) -> ResultSet:
    description = cursor.description or ()
    # The collation id is only on PyMySQL's field packets, which the DB-API description
    # leaves out; it is what tells VARBINARY/BLOB from VARCHAR/TEXT when every value is NULL.
    fields = getattr(getattr(cursor, "_result", None), "fields", None) or []
    charsets = [getattr(field, "charsetnr", None) for field in fields]
    if len(charsets) != len(description):
        charsets = [None] * len(description)
    names = [column[0] for column in description]
    types = [
        mysql_type_to_canonical(column[1], charset)
        for column, charset in zip(description, charsets, strict=True)
    ]
    return build_result_set(names, types, cursor.fetchall())


def _warnings(cursor: pymysql.cursors.Cursor, secrets: Sequence[str]) -> list[str]:
    """The warnings and notes left by the script's last statement that had any.

    MySQL keeps only one statement's diagnostics, and with several statements in one query
    there is no moment in between to ask; this is the cheap, partial answer.
    """
    cursor.execute(f"SHOW WARNINGS LIMIT {MAX_WARNINGS}")
    warnings = MessageCollector(secrets=secrets)
    warnings.extend(f"{level} {code}: {text}" for level, code, text in cursor.fetchall())
    return warnings.messages()


def _kill(params: Mapping[str, Any], thread_id: int) -> None:
    """Ends the script's session from a second connection. KILL CONNECTION rather than KILL
    QUERY: the latter only stops the current statement, and the rest of a multi-statement
    script would carry on."""
    with _side_connection(params) as cursor:
        cursor.execute(f"KILL CONNECTION {int(thread_id)}")


@contextlib.contextmanager
def _side_connection(params: Mapping[str, Any]) -> Iterator[pymysql.cursors.Cursor]:
    """A short-lived second connection of the same login, for KILL and its checks."""
    side_params = dict(params)
    side_params["client_flag"] = 0
    side_params["database"] = None
    side_params["connect_timeout"] = 5
    side_params["read_timeout"] = 5
    side = pymysql.connect(**_driver_arguments(side_params))
    try:
        with side.cursor() as cursor:
            yield cursor
    finally:
        _close(side)


def _close(connection: pymysql.connections.Connection) -> None:
    # Already closed: the server killed the session or the network dropped it.
    with contextlib.suppress(pymysql.Error):
        connection.close()


def _secrets(login: Login | None) -> list[str]:
    return [login.password] if login is not None and login.password else []


def _message(error: pymysql.Error, secrets: list[str]) -> str:
    if len(error.args) >= 2 and isinstance(error.args[0], int):
        return scrub(str(error.args[1]), secrets)
    return scrub(str(error), secrets)


def _script_error(error: pymysql.Error, secrets: list[str]) -> ScriptError:
    errno = error.args[0] if error.args and isinstance(error.args[0], int) else 0
    if errno:
        error_class = classify_mysql_errno(errno)
    elif isinstance(error, pymysql.err.OperationalError | pymysql.err.InterfaceError):
        error_class = "connection_error"
    else:
        error_class = "other"
    # PyMySQL reads the SQLSTATE off the error packet but does not keep it, so only the
    # class (from the error number) is reported.
    return ScriptError(_message(error, secrets), error_class=error_class)
