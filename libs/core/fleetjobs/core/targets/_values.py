"""What one option's value may be.

Each checker takes the value and returns why it is wrong, or None. Values are narrow on
purpose: a value that can only be a number, a flag, a word from a short list or a plain path
can never carry a connection-string delimiter (`;`, `{`, `}`, `=`) into a driver's parser,
whatever quoting the driver does or does not understand (docs/adr/0006). The messages never
quote the value: a value is where a careless user pastes a password.
"""

from __future__ import annotations

import re
from collections.abc import Callable

ValueCheck = Callable[[str], str | None]

# A plain path: no delimiter, no quote, no control character; absolute because the executor's
# working directory is nobody's business.
_PATH_RE = re.compile(r"/[A-Za-z0-9_./+ @-]*")
_TOKEN_RE = re.compile(r"[A-Za-z0-9_.:,+-]+")
_HOST_RE = re.compile(r"[A-Za-z0-9*](?:[A-Za-z0-9_.*-]{0,252})")
_DRIVER_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9 _.()+-]{0,126}[A-Za-z0-9)])?")
_SETTING = r"-c [A-Za-z_][A-Za-z0-9_.]*=[A-Za-z0-9_.:+-]+"
_SERVER_SETTINGS_RE = re.compile(rf"options='{_SETTING}(?: {_SETTING})*'")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def one_of(*choices: str) -> ValueCheck:
    """One of `choices`, compared case-insensitively."""
    allowed = {choice.lower() for choice in choices}

    def check(value: str) -> str | None:
        if value.lower() in allowed:
            return None
        return f"must be one of {', '.join(choices)}"

    return check


def whole_number(low: int, high: int) -> ValueCheck:
    def check(value: str) -> str | None:
        if re.fullmatch(r"-?[0-9]{1,10}", value) and low <= int(value) <= high:
            return None
        return f"must be a whole number from {low} to {high}"

    return check


def flag(value: str) -> str | None:
    """0 or 1: ODBC drivers read flags with atoi, so `true` would silently mean 0."""
    return None if value in ("0", "1") else "must be 0 or 1"


def yes_no(value: str) -> str | None:
    return None if value.lower() in ("yes", "no") else "must be yes or no"


def file_path(value: str) -> str | None:
    """An absolute path on the executor hosts (a CA bundle, a client certificate)."""
    if value.startswith("/") and _PATH_RE.fullmatch(value) and "/../" not in f"{value}/":
        return None
    return (
        "must be an absolute path on the executor hosts, of letters, digits and _ . / + @ - "
        "and spaces, without '..'"
    )


def token(value: str) -> str | None:
    """A word such as a cipher list or a TLS version list."""
    if _TOKEN_RE.fullmatch(value):
        return None
    return "must be letters, digits and _ . : , + - only"


def driver_name(value: str) -> str | None:
    """The name a driver is registered under in odbcinst.ini: never a path or a library file,
    which unixODBC would load as given."""
    if "/" in value or "\\" in value or value.lower().endswith((".so", ".dll", ".dylib")):
        return "must be the name of a driver registered in odbcinst.ini, never a path or a library"
    if _DRIVER_RE.fullmatch(value):
        return None
    return "must be a driver name of letters, digits, spaces and _ . ( ) + - only"


def host_name(value: str) -> str | None:
    if _HOST_RE.fullmatch(value):
        return None
    return "must be a host name (letters, digits, '.', '-', '_', '*')"


def free_text(value: str) -> str | None:
    """Text handed to the driver as one quoted parameter, never spliced into a string it
    parses (libpq's `options`, which psycopg quotes)."""
    if _CONTROL_RE.search(value):
        return "must not contain control characters"
    return None


def libpq_server_settings(value: str) -> str | None:
    """psqlODBC's `pqopt` narrowed to its one harmless use, server settings for the session:
    `options='-c name=value -c name=value'`. Any other libpq keyword (hostaddr, host, port,
    service, sslkey…) is refused, and neither a quote nor a backslash can end the quoted
    value early."""
    if _SERVER_SETTINGS_RE.fullmatch(value):
        return None
    return (
        "may only hold server settings, as options='-c name=value' (repeat -c name=value, "
        "separated by one space; values of letters, digits and _ . : + -)"
    )


def mariadb_option_bits(value: str) -> str | None:
    """MariaDB/MySQL Connector/ODBC's OPTION bit mask, without the bits that read a local
    configuration file (USE_MYCNF), change the transport (NAMED_PIPE) or write driver logs
    that may hold statements and connection settings (DEBUG, LOG_QUERY)."""
    if not re.fullmatch(r"[0-9]{1,10}", value) or int(value) >= 2**32:
        return "must be a whole number (a bit mask), e.g. 67108864 for MULTI_STATEMENTS"
    denied = int(value) & MARIADB_DENIED_BITS
    if denied:
        names = [name for bit, name in _MARIADB_BIT_NAMES.items() if denied & bit]
        return (
            f"sets {', '.join(names)} ({denied}), which fleetjobs refuses: they read local "
            "configuration, change the transport or write driver logs"
        )
    return None


_MARIADB_BIT_NAMES = {4: "DEBUG", 8192: "NAMED_PIPE", 65536: "USE_MYCNF", 524288: "LOG_QUERY"}
MARIADB_DENIED_BITS = sum(_MARIADB_BIT_NAMES)
