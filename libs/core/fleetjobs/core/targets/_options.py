"""Checks a target's options against the allow-list of its engine (and ODBC driver family).

The catalog runs this on CreateTarget and turns each problem into a field violation; every
connector runs it again before it connects, because a control database may hold rows written
before the allow-list existed (docs/adr/0006).

Order of the checks: the number of options; then, key by key in sorted order, the key's
shape, a password in the key or the value, the key against the allow-list, a key given twice
in another case, the value; last, what the whole set needs (an odbc target's driver). A
problem never quotes a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from fleetjobs.core.targets._allowed import (
    ENGINE_OPTIONS,
    ODBC_COMMON,
    ODBC_FAMILIES,
    OptionSet,
    odbc_family,
)
from fleetjobs.core.targets._values import driver_name

MAX_OPTIONS = 64
OPTION_VALUE_MAX = 1024
OPTION_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
_SECRET_KEY_RE = re.compile(r"password|passwd|pwd|passfile", re.IGNORECASE)
_SECRET_VALUE_RE = re.compile(r"(?:^|[;\s])(?:password|passwd|pwd)\s*=", re.IGNORECASE)
# Keys that name something the target or the credential already says.
_ADDRESS_KEYS = frozenset(
    {
        "host",
        "hostaddr",
        "server",
        "servername",
        "port",
        "socket",
        "unix_socket",
        "database",
        "dbname",
        "db",
        "uid",
        "user",
        "username",
        "service",
        "named_pipe",
        "namedpipe",
    }
)
# An odbc target whose driver names no family fleetjobs knows: only what every family takes.
_ODBC_ANY = OptionSet("engine odbc", ODBC_COMMON, case_sensitive=False)
_FAMILY_NAMES = (
    "psqlODBC (PostgreSQL), MariaDB or MySQL Connector/ODBC, Microsoft ODBC Driver 17/18 "
    "for SQL Server, FreeTDS"
)


@dataclass(frozen=True, slots=True)
class OptionProblem:
    """What is wrong with one option (`key`), or with the options as a whole (`key` None)."""

    key: str | None
    message: str

    def text(self) -> str:
        return f"option {self.key}: {self.message}" if self.key is not None else self.message


def option_set(engine: str, options: Mapping[str, str]) -> OptionSet | None:
    """The allow-list `options` are checked against: the engine's, or for odbc the family of
    the driver the options name. None for an unknown engine or ODBC driver family."""
    if engine != "odbc":
        return ENGINE_OPTIONS.get(engine)
    driver = next((value for key, value in options.items() if key.lower() == "driver"), "")
    return odbc_family(driver) if driver else None


def option_problems(engine: str, options: Mapping[str, str]) -> list[OptionProblem]:
    """Everything wrong with a target's options, in the order the module docstring gives."""
    problems: list[OptionProblem] = []
    if len(options) > MAX_OPTIONS:
        problems.append(OptionProblem(None, f"at most {MAX_OPTIONS} options, not {len(options)}"))
        return problems
    allowed = option_set(engine, options)
    if engine == "odbc" and allowed is None:
        allowed = _ODBC_ANY
    seen: dict[str, str] = {}
    for key in sorted(options):
        problem = _key_problem(engine, allowed, key, options[key], seen)
        if problem is not None:
            problems.append(OptionProblem(key, problem))
    if engine == "odbc":
        problems += _odbc_problems(options)
    return problems


def _key_problem(
    engine: str, allowed: OptionSet | None, key: str, value: str, seen: dict[str, str]
) -> str | None:
    if OPTION_KEY_RE.fullmatch(key) is None:
        return "option names are 1-64 letters, digits, '_', '.' or '-', starting with a letter"
    if _SECRET_KEY_RE.search(key) or _SECRET_VALUE_RE.search(value):
        return "options never carry a password: put it in a credential"
    if len(value) > OPTION_VALUE_MAX or "\x00" in value:
        return f"the value must be at most {OPTION_VALUE_MAX} characters, without NUL"
    if allowed is None:
        return None  # an unknown engine: the engine field says what is wrong
    if engine == "odbc" and key.lower() == "dsn":
        return (
            "a data source name is not accepted: its server and settings live in odbc.ini on "
            "each executor host, where the credential's allowed_servers cannot check them. "
            "Set options[driver] to the driver's name and the server on the target"
        )
    name = allowed.lookup(key)
    if name is None:
        hint = ""
        if key.lower() in _ADDRESS_KEYS:
            hint = (
                " Where to connect and who logs in come from the target's server_name, port "
                "and database_name and from the credential."
            )
        return (
            f"is not allowed for {allowed.label}: fleetjobs passes only options that cannot "
            f"change where the connection goes or what the client loads.{hint} Remove it; "
            f"the allowed options are: {allowed.names() or 'none'}"
        )
    if name in seen:
        return f"is given twice (as {seen[name]} and {key}): option names ignore case here"
    seen[name] = key
    why = allowed.checks[name](value)
    return f"{why}" if why is not None else None


def _odbc_problems(options: Mapping[str, str]) -> list[OptionProblem]:
    driver_keys = [key for key in options if key.lower() == "driver"]
    if not driver_keys:
        return [
            OptionProblem(
                None,
                "an odbc target needs options[driver]: the name of an ODBC driver registered "
                "in odbcinst.ini on the executor hosts",
            )
        ]
    key = driver_keys[0]
    driver = options[key]
    if driver_name(driver) is None and odbc_family(driver) is None:
        known = "; ".join(", ".join(fragments) for fragments, _ in ODBC_FAMILIES)
        return [
            OptionProblem(
                key,
                f"names no driver family whose options fleetjobs knows ({_FAMILY_NAMES}): "
                f"the registered name must contain one of: {known}. For another database, "
                "use its own engine where fleetjobs has one",
            )
        ]
    return []
