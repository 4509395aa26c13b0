"""How the destination table names a target's server."""

from __future__ import annotations

from fleetjobs.core.sql import server_label


def test_default_ports_stay_implicit() -> None:
    assert server_label("postgresql", "db1", 5432) == "db1"
    assert server_label("mysql", "db1", 3306) == "db1"
    assert server_label("postgresql", "db1", 0) == "db1"


def test_other_ports_are_part_of_the_name() -> None:
    # Two databases of one name on two ports of one host must not replace each other's rows.
    assert server_label("postgresql", "db1", 5433) == "db1:5433"
    assert server_label("odbc", "db1", 5432) == "db1:5432"


def test_sqlite_has_no_server() -> None:
    assert server_label("sqlite", "", 0) == ""
