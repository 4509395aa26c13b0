"""The connection-options allow-list as plain functions (docs/adr/0006)."""

from __future__ import annotations

import pytest

from fleetjobs.core.targets import ENGINE_OPTIONS, ODBC_FAMILIES, option_problems

_ODBC_DRIVERS = {
    "psqlODBC": "PostgreSQL Unicode",
    "MariaDB": "MariaDB Unicode",
    "SQL Server": "ODBC Driver 18 for SQL Server",
}


def _keys(engine: str, options: dict[str, str]) -> list[str | None]:
    return [problem.key for problem in option_problems(engine, options)]


@pytest.mark.parametrize("smuggled", ["1;SOCKET=/tmp/x", "1}", "{1", "a=b", "1\n", " 1"])
def test_no_odbc_value_can_carry_a_delimiter(smuggled: str) -> None:
    # Every option of every family, whatever its checker: none lets a delimiter through.
    for driver in _ODBC_DRIVERS.values():
        family = next(
            options
            for fragments, options in ODBC_FAMILIES
            if any(f in driver.lower() for f in fragments)
        )
        for name in family.checks:
            if name == "driver":
                continue
            options = {"driver": driver, name: smuggled}
            assert _keys("odbc", options) == [name], (driver, name)


@pytest.mark.parametrize("engine", sorted(ENGINE_OPTIONS))
def test_every_engine_refuses_what_moves_a_connection(engine: str) -> None:
    for key in ("host", "hostaddr", "socket", "unix_socket", "service", "server", "port"):
        assert _keys(engine, {key: "10.0.0.9"}) == [key], (engine, key)


def test_odbc_names_ignore_case_but_not_twice() -> None:
    assert _keys("odbc", {"driver": "PostgreSQL Unicode", "SSLMODE": "require"}) == []
    assert _keys("odbc", {"DRIVER": "MariaDB Unicode", "option": "67108864"}) == []
    doubled = {"driver": "MariaDB Unicode", "OPTION": "67108864", "Option": "2"}
    assert _keys("odbc", doubled) == ["Option"]


@pytest.mark.parametrize(
    ("bits", "refused"),
    [("67108864", False), ("3", False), ("4", True), ("8192", True), ("65536", True)],
)
def test_mariadb_option_bits(bits: str, refused: bool) -> None:
    keys = _keys("odbc", {"driver": "MariaDB Unicode", "OPTION": bits})
    assert keys == (["OPTION"] if refused else [])


@pytest.mark.parametrize(
    "driver",
    ["/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so", "psqlodbcw.so", "..\\mariadb.dll", "x;y"],
)
def test_a_driver_is_a_registered_name_never_a_library(driver: str) -> None:
    assert "driver" in _keys("odbc", {"driver": driver})


def test_problems_never_quote_a_value() -> None:
    secret = "hunter2-value"
    options = {"driver": "PostgreSQL Unicode", "sslmode": secret, "pqopt": secret}
    for problem in option_problems("odbc", options):
        assert secret not in problem.text()
