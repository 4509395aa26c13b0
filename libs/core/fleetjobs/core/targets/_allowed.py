"""The option names a target may set, per engine and, for `odbc`, per driver family.

Only names known to change nothing about *where* a connection goes, *what* the client loads
or reads on the executor host, or *who* it logs in as are listed (docs/adr/0006). Everything
else is refused: a host, hostaddr, socket, named pipe, service or DSN file; psqlODBC's `pqopt`
(libpq settings inside an ODBC string) beyond `options='-c name=value'`, and psqlODBC's
abbreviations (`CX`, `A6`, …); driver paths,
plugin directories and init statements; log and trace files; passwords.

Names are the drivers' own spellings. `postgresql` and `mysql` compare them as written (libpq
and fleetjobs' MySQL options are case-sensitive); `odbc` and `mssql` case-insensitively, as
ODBC drivers do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleetjobs.core.targets._values import (
    ValueCheck,
    driver_name,
    file_path,
    flag,
    free_text,
    host_name,
    libpq_server_settings,
    mariadb_option_bits,
    one_of,
    token,
    whole_number,
    yes_no,
)

_SECONDS = whole_number(1, 3600)
_LIBPQ_FLAG = one_of("0", "1")


@dataclass(frozen=True, slots=True)
class OptionSet:
    """The options one engine (or one ODBC driver family) accepts."""

    label: str  # how messages name it: "engine postgresql", "psqlODBC drivers"
    checks: Mapping[str, ValueCheck]  # name as spelt in the driver's documentation → check
    case_sensitive: bool
    # Options whose value is a file the executor opens: checked for existence at connect time.
    files: frozenset[str] = frozenset()

    def lookup(self, key: str) -> str | None:
        """The documented spelling of `key`, or None when it is not allowed."""
        if self.case_sensitive:
            return key if key in self.checks else None
        folded = key.lower()
        return next((name for name in self.checks if name.lower() == folded), None)

    def names(self) -> str:
        return ", ".join(sorted(self.checks, key=str.lower))


POSTGRESQL = OptionSet(
    "engine postgresql",
    {
        "connect_timeout": _SECONDS,
        "sslmode": one_of("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
        "sslrootcert": lambda value: None if value == "system" else file_path(value),
        "sslcert": file_path,
        "sslkey": file_path,
        "sslcrl": file_path,
        "sslsni": _LIBPQ_FLAG,
        "gssencmode": one_of("disable", "prefer", "require"),
        "channel_binding": one_of("disable", "prefer", "require"),
        "target_session_attrs": one_of(
            "any", "read-write", "read-only", "primary", "standby", "prefer-standby"
        ),
        "keepalives": _LIBPQ_FLAG,
        "keepalives_idle": whole_number(1, 86_400),
        "keepalives_interval": whole_number(1, 86_400),
        "keepalives_count": whole_number(1, 1000),
        "tcp_user_timeout": whole_number(0, 86_400_000),
        # Server settings for the session (`-c statement_timeout=4s`): they travel to the
        # server the connection already goes to, as one quoted libpq parameter.
        "options": free_text,
    },
    case_sensitive=True,
    files=frozenset({"sslrootcert", "sslcert", "sslkey", "sslcrl"}),
)

_MYSQL_SSL_MODES = one_of("disabled", "preferred", "required", "verify_ca", "verify_identity")
MYSQL = OptionSet(
    "engine mysql",
    {
        "connect_timeout": _SECONDS,
        "ssl_mode": _MYSQL_SSL_MODES,
        "ssl": _MYSQL_SSL_MODES,
        "ssl_ca": file_path,
        "ssl_cert": file_path,
        "ssl_key": file_path,
        "charset": token,
    },
    case_sensitive=True,
    files=frozenset({"ssl_ca", "ssl_cert", "ssl_key"}),
)

SQLITE = OptionSet("engine sqlite", {}, case_sensitive=True)

_ENCRYPT = one_of("yes", "no", "strict", "mandatory", "optional")
_TDS_VERSION = one_of("auto", "7.0", "7.1", "7.2", "7.3", "7.4", "8.0")
MSSQL = OptionSet(
    "engine mssql",
    {
        "driver": driver_name,  # re-checked as an installed SQL Server driver's name
        "connect_timeout": _SECONDS,
        "encrypt": _ENCRYPT,
        "trust_server_certificate": yes_no,
        "host_name_in_certificate": host_name,
        "application_intent": one_of("ReadOnly", "ReadWrite"),
        "tds_version": _TDS_VERSION,
    },
    case_sensitive=False,
)

# What every odbc target takes, whatever its driver.
ODBC_COMMON: dict[str, ValueCheck] = {"driver": driver_name, "connect_timeout": _SECONDS}

PSQLODBC = OptionSet(
    "engine odbc with a psqlODBC (PostgreSQL) driver",
    {
        **ODBC_COMMON,
        "SSLmode": one_of("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
        "Protocol": one_of("7.4", "7.4-0", "7.4-1", "7.4-2"),
        "BoolsAsChar": flag,
        "TextAsLongVarchar": flag,
        "UnknownsAsLongVarchar": flag,
        "UnknownSizes": one_of("0", "1", "2"),
        "MaxVarcharSize": whole_number(1, 1_073_741_823),
        "MaxLongVarcharSize": whole_number(-4, 1_073_741_823),
        "ByteaAsLongVarBinary": flag,
        "UseDeclareFetch": flag,
        "Fetch": whole_number(1, 1_000_000),
        "UseServerSidePrepare": flag,
        "ReadOnly": flag,
        "Parse": flag,
        "LowerCaseIdentifier": flag,
        "LFConversion": flag,
        "TrueIsMinus1": flag,
        "UpdatableCursors": flag,
        "BI": whole_number(-5, 8),
        "KeepaliveTime": whole_number(-1, 86_400),
        "KeepaliveInterval": whole_number(-1, 86_400),
        # libpq settings inside the ODBC string: only `options='-c name=value'`, the way to
        # ask for client_connection_check_interval through psqlODBC.
        "pqopt": libpq_server_settings,
    },
    case_sensitive=False,
)

MARIADB_ODBC = OptionSet(
    "engine odbc with a MariaDB or MySQL Connector/ODBC driver",
    {
        **ODBC_COMMON,
        "OPTION": mariadb_option_bits,
        "CHARSET": token,
        "SSLVERIFY": flag,
        "FORCETLS": flag,
        "SSLMODE": one_of("DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"),
        "SSLCA": file_path,
        "SSLCERT": file_path,
        "SSLKEY": file_path,
        "SSLCRL": file_path,
        "SSLCAPATH": file_path,
        "SSLCIPHER": token,
        "TLSVERSION": token,
        "TLSPEERFP": token,
        "READ_TIMEOUT": whole_number(0, 86_400),
        "WRITE_TIMEOUT": whole_number(0, 86_400),
        "NO_CACHE": flag,
        "FORWARDONLY": flag,
        # Honoured by newer drivers only (3.1 ignores it): fleetjobs refuses LOCAL INFILE
        # scripts for this family itself (connectors/_local_infile.py).
        "NOLOCALINFILE": flag,
    },
    case_sensitive=False,
    files=frozenset({"SSLCA", "SSLCERT", "SSLKEY", "SSLCRL"}),
)

SQLSERVER_ODBC = OptionSet(
    "engine odbc with a SQL Server driver (Microsoft ODBC Driver 17/18 or FreeTDS)",
    {
        **ODBC_COMMON,
        "Encrypt": _ENCRYPT,
        "TrustServerCertificate": yes_no,
        "HostNameInCertificate": host_name,
        "ApplicationIntent": one_of("ReadOnly", "ReadWrite"),
        "MultiSubnetFailover": yes_no,
        "ConnectRetryCount": whole_number(0, 255),
        "ConnectRetryInterval": whole_number(1, 60),
        "APP": token,
        "Language": token,
        "TDS_Version": _TDS_VERSION,
        "Encryption": one_of("off", "request", "require", "strict"),
        "ClientCharset": token,
    },
    case_sensitive=False,
)

ENGINE_OPTIONS: Mapping[str, OptionSet] = {
    "postgresql": POSTGRESQL,
    "mysql": MYSQL,
    "sqlite": SQLITE,
    "mssql": MSSQL,
}

# (fragments of a registered driver name, its options). A driver name is what the executor
# host's odbcinst.ini calls it; the connector only accepts names registered there.
ODBC_FAMILIES: tuple[tuple[tuple[str, ...], OptionSet], ...] = (
    (("postgres", "psqlodbc"), PSQLODBC),
    (("mariadb", "mysql"), MARIADB_ODBC),
    (("sql server", "freetds", "msodbcsql"), SQLSERVER_ODBC),
)


def odbc_family(driver: str) -> OptionSet | None:
    """The option set of the driver family `driver` names, or None for a driver fleetjobs
    does not know."""
    lowered = driver.lower()
    for fragments, options in ODBC_FAMILIES:
        if any(fragment in lowered for fragment in fragments):
            return options
    return None
