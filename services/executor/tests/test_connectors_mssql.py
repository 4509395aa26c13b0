"""SQL Server without a server: the connection string and the batches it would send."""

from __future__ import annotations

import pytest

from fleetjobs.executor.connectors import DatabaseAddress, Login, MssqlConnector, ScriptError
from fleetjobs.executor.connectors.mssql import (
    build_mssql_connection_string,
    choose_sqlserver_driver,
    mssql_batches,
)

DRIVER_18 = "ODBC Driver 18 for SQL Server"


def parse_connection_string(text: str) -> list[tuple[str, str]]:
    """An independent reading of ODBC's rules: `key=value;`, a value in braces may hold
    anything, and `}}` inside braces is one `}`."""
    pairs: list[tuple[str, str]] = []
    index = 0
    while index < len(text):
        equals = text.index("=", index)
        key = text[index:equals]
        index = equals + 1
        if text.startswith("{", index):
            value_chars: list[str] = []
            index += 1
            while True:
                char = text[index]
                if char == "}":
                    if text.startswith("}}", index):
                        value_chars.append("}")
                        index += 2
                        continue
                    index += 1
                    break
                value_chars.append(char)
                index += 1
            value = "".join(value_chars)
            assert index == len(text) or text[index] == ";", f"junk after a braced value: {text}"
        else:
            end = text.find(";", index)
            end = len(text) if end < 0 else end
            value = text[index:end]
            assert "{" not in value and "}" not in value
            index = end
        pairs.append((key, value))
        index += 1  # the ';'
    return pairs


def test_connection_string_for_driver_18() -> None:
    address = DatabaseAddress("mssql", "sql1.example", 0, "inventory")
    text = build_mssql_connection_string(address, Login("sa", "Secret1!"), driver=DRIVER_18)
    assert parse_connection_string(text) == [
        ("DRIVER", DRIVER_18),
        ("SERVER", "sql1.example,1433"),
        ("DATABASE", "inventory"),
        ("UID", "sa"),
        ("PWD", "Secret1!"),
        ("Encrypt", "yes"),
        ("TrustServerCertificate", "no"),
        ("APP", "fleetjobs"),
    ]


def test_connection_string_survives_hostile_values() -> None:
    hostile = {
        "server": "db;Trusted_Connection=yes",
        "database": "we}ird;{db}=",
        "user": "u}};x",
        "password": "p;}{=}}PWD=evil; ",
    }
    address = DatabaseAddress(
        "mssql",
        hostile["server"],
        14330,
        hostile["database"],
        {"encrypt": "strict", "trust_server_certificate": "yes", "application_intent": "ReadOnly"},
    )
    text = build_mssql_connection_string(
        address, Login(hostile["user"], hostile["password"]), driver=DRIVER_18
    )
    pairs = parse_connection_string(text)
    assert pairs == [
        ("DRIVER", DRIVER_18),
        ("SERVER", f"{hostile['server']},14330"),
        ("DATABASE", hostile["database"]),
        ("UID", hostile["user"]),
        ("PWD", hostile["password"]),
        ("Encrypt", "strict"),
        ("TrustServerCertificate", "yes"),
        ("ApplicationIntent", "ReadOnly"),
        ("APP", "fleetjobs"),
    ]
    # No value smuggled in a keyword of its own.
    assert [key for key, _ in pairs].count("PWD") == 1
    assert "Trusted_Connection" not in [key for key, _ in pairs]


def test_connection_string_for_freetds() -> None:
    address = DatabaseAddress("mssql", "sql1", 1444, "db", {"encrypt": "no"})
    text = build_mssql_connection_string(address, Login("sa", "pw"), driver="FreeTDS")
    assert parse_connection_string(text) == [
        ("DRIVER", "FreeTDS"),
        ("SERVER", "sql1"),
        ("PORT", "1444"),
        ("TDS_Version", "7.4"),
        ("DATABASE", "db"),
        ("UID", "sa"),
        ("PWD", "pw"),
        ("Encryption", "request"),
        ("APP", "fleetjobs"),
    ]


@pytest.mark.parametrize(
    "options",
    [{"PWD": "x"}, {"password": "x"}, {"encrypt": "maybe"}, {"Trusted_Connection": "yes"}],
)
def test_connection_string_refuses_bad_options(options: dict[str, str]) -> None:
    address = DatabaseAddress("mssql", "sql1", 0, "db", options)
    with pytest.raises(ScriptError) as caught:
        build_mssql_connection_string(address, Login("sa", "pw"), driver=DRIVER_18)
    assert caught.value.refused


def test_driver_preference() -> None:
    assert choose_sqlserver_driver(["FreeTDS", DRIVER_18, "ODBC Driver 17 for SQL Server"]) == (
        DRIVER_18
    )
    assert choose_sqlserver_driver(["PostgreSQL Unicode", "FreeTDS Driver"]) == "FreeTDS Driver"
    assert choose_sqlserver_driver(["PostgreSQL Unicode"]) is None


def test_batches_sent_in_order_with_repeats() -> None:
    script = "\n".join(
        [
            "CREATE TABLE t (a int)",
            "GO",
            "INSERT INTO t VALUES (1)",
            "go 2",
            "  GO  ",
            "PRINT 'GO'",
            "SELECT 'GO'",
            "GOTO done",
            "GO -- comment",
            "done:",
            "SELECT COUNT(*) FROM t",
        ]
    )
    assert mssql_batches(script) == [
        "CREATE TABLE t (a int)",
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (1)",
        "PRINT 'GO'\nSELECT 'GO'\nGOTO done",
        "done:\nSELECT COUNT(*) FROM t",
    ]


def test_go_zero_is_refused_before_connecting() -> None:
    address = DatabaseAddress("mssql", "127.0.0.1", 1, "db")
    with pytest.raises(ScriptError) as caught:
        MssqlConnector().run_script(address, None, "SELECT 1\nGO 0", timeout_seconds=5)
    assert caught.value.refused
    assert caught.value.error_class == "syntax_error"


def test_without_a_sql_server_driver_runs_are_refused() -> None:
    connector = MssqlConnector()
    if connector.availability().available:
        pytest.skip("a SQL Server ODBC driver is installed here")
    address = DatabaseAddress("mssql", "127.0.0.1", 1, "db")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(address, Login("sa", "pw"), "SELECT 1", timeout_seconds=5)
    assert caught.value.refused
    assert caught.value.error_class == "refused"
