"""SQL Server through pyodbc, with Microsoft's ODBC Driver 18 (or 17) when installed and
FreeTDS otherwise.

Scripts are written for sqlcmd, so they are split at `GO` lines exactly as sqlcmd splits them
and the batches are sent in order, `GO n` repeats included; PRINT and other informational
messages come back through `cursor.messages`. Building the connection string and the batch
list are pure functions, testable without a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleetjobs.core.sql import split_go_batches
from fleetjobs.core.targets import odbc_family
from fleetjobs.executor.connectors._base import (
    Availability,
    DatabaseAddress,
    Login,
    ScriptError,
    ScriptOutcome,
)
from fleetjobs.executor.connectors._options import (
    checked_options,
    registered_drivers,
    require_files,
    require_registered_driver,
)
from fleetjobs.executor.connectors._support import (
    connect_timeout,
    load_pyodbc,
    odbc_connection_string,
    refuse,
)
from fleetjobs.executor.connectors.odbc import odbc_server_version, run_batches

__all__ = [
    "SQLSERVER_DRIVERS",
    "MssqlConnector",
    "build_mssql_connection_string",
    "choose_sqlserver_driver",
    "mssql_batches",
]

DEFAULT_PORT = 1433
APPLICATION_NAME = "fleetjobs"
# In order of preference.
SQLSERVER_DRIVERS = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")
# Any registered name of Microsoft's drivers or FreeTDS gets their options.
SQLSERVER_FAMILY = odbc_family(SQLSERVER_DRIVERS[0])

_ENCRYPT_VALUES = ("yes", "no", "strict", "mandatory", "optional")
# FreeTDS spells encryption differently: it has no TDS 8 "strict" and no certificate switch.
_FREETDS_ENCRYPTION = {
    "yes": "require",
    "mandatory": "require",
    "strict": "require",
    "no": "request",
    "optional": "request",
}


def choose_sqlserver_driver(installed: Sequence[str]) -> str | None:
    """The preferred SQL Server driver among the installed ODBC drivers, or None."""
    for name in SQLSERVER_DRIVERS:
        if name in installed:
            return name
    # FreeTDS packages register under varying names ("FreeTDS", "FreeTDS Driver", …).
    return next((name for name in installed if "freetds" in name.lower()), None)


def build_mssql_connection_string(
    address: DatabaseAddress, login: Login | None, *, driver: str
) -> str:
    """The connection string for a target on `driver`. Raises ScriptError(refused)."""
    options = _checked_options(address.options)
    encrypt = options.get("encrypt", "yes").lower()
    if encrypt not in _ENCRYPT_VALUES:
        raise refuse(f"option encrypt must be one of {', '.join(_ENCRYPT_VALUES)}")
    trust = options.get("trust_server_certificate", "no").lower()
    if trust not in ("yes", "no"):
        raise refuse("option trust_server_certificate must be yes or no")
    host = address.server_name or "localhost"
    port = address.port or DEFAULT_PORT
    freetds = "freetds" in driver.lower()

    pairs: list[tuple[str, str]] = [("DRIVER", driver)]
    if freetds:
        pairs += [("SERVER", host), ("PORT", str(port))]
        pairs.append(("TDS_Version", options.get("tds_version", "7.4")))
    else:
        pairs.append(("SERVER", f"{host},{port}"))
    if address.database_name:
        pairs.append(("DATABASE", address.database_name))
    if login is not None:
        pairs += [("UID", login.username), ("PWD", login.password)]
    if freetds:
        pairs.append(("Encryption", _FREETDS_ENCRYPTION[encrypt]))
    else:
        pairs += [("Encrypt", encrypt), ("TrustServerCertificate", trust)]
        if options.get("host_name_in_certificate"):
            pairs.append(("HostNameInCertificate", options["host_name_in_certificate"]))
    if options.get("application_intent"):
        pairs.append(("ApplicationIntent", options["application_intent"]))
    pairs.append(("APP", APPLICATION_NAME))
    return odbc_connection_string(pairs, secret_keys=("PWD",))


def mssql_batches(script: str) -> list[str]:
    """The batches sqlcmd would send for `script`, in order, repeats expanded.

    Raises ScriptError(refused, syntax_error) where sqlcmd would refuse the script (`GO 0`).
    """
    try:
        return split_go_batches(script)
    except ValueError as error:
        raise ScriptError(str(error), error_class="syntax_error", refused=True) from None


class MssqlConnector:
    engine = "mssql"

    def availability(self) -> Availability:
        pyodbc, problem = load_pyodbc()
        if pyodbc is None:
            return Availability(self.engine, driver="pyodbc", available=False, detail=problem)
        installed = list(pyodbc.drivers())
        driver = choose_sqlserver_driver(installed)
        if driver is None:
            return Availability(
                self.engine,
                driver=f"pyodbc {pyodbc.version}",
                available=False,
                detail=(
                    f"no SQL Server ODBC driver installed (looked for "
                    f"{', '.join(SQLSERVER_DRIVERS)}; installed: {', '.join(installed) or 'none'})"
                ),
            )
        return Availability(
            self.engine, driver=f"pyodbc {pyodbc.version}", available=True, detail=driver
        )

    def run_script(
        self, address: DatabaseAddress, login: Login | None, script: str, *, timeout_seconds: float
    ) -> ScriptOutcome:
        batches = mssql_batches(script)
        pyodbc, connection_string = self._prepare(address, login)
        return run_batches(
            pyodbc,
            connection_string,
            batches,
            timeout_seconds=timeout_seconds,
            login_timeout=connect_timeout(address.options),
            secrets=[login.password] if login is not None and login.password else [],
        )

    def server_version(self, address: DatabaseAddress, login: Login | None) -> str:
        pyodbc, connection_string = self._prepare(address, login)
        return odbc_server_version(
            pyodbc,
            connection_string,
            connect_timeout(address.options),
            [login.password] if login is not None and login.password else [],
        )

    def _prepare(self, address: DatabaseAddress, login: Login | None) -> tuple[object, str]:
        pyodbc, problem = load_pyodbc()
        if pyodbc is None:
            raise refuse(problem)
        named = _checked_options(address.options).get("driver", "")
        installed = registered_drivers(pyodbc, named)
        driver = named or choose_sqlserver_driver(installed)
        if driver is None:
            raise refuse(
                "no SQL Server ODBC driver is installed on this executor "
                f"(looked for {', '.join(SQLSERVER_DRIVERS)})"
            )
        connection_string = build_mssql_connection_string(address, login, driver=driver)
        if odbc_family(driver) is not SQLSERVER_FAMILY:
            raise refuse(f"ODBC driver {driver!r} is not a SQL Server driver")
        require_registered_driver(driver, installed)
        return pyodbc, connection_string


def _checked_options(options: Mapping[str, str]) -> dict[str, str]:
    """The options under their lower-case names, once the allow-list (docs/adr/0006) and the
    files they name are checked. Raises ScriptError(refused)."""
    allowed = checked_options("mssql", options)
    require_files(allowed, options)
    return {key.lower(): value for key, value in options.items()}
