"""The catalog's rules as plain functions: no server, no database."""

from __future__ import annotations

import pytest

from fleetjobs.catalog.domain import (
    DEFAULT_POLICY,
    DatabaseTargetSpec,
    JobSpec,
    PolicyValues,
    ResultDestinationSpec,
    credential_required,
    database_target_violations,
    effective,
    merge,
    merge_job,
    name_violations,
    policy_violations,
)


@pytest.mark.parametrize("name", ["a", "A.b_c-d", "9lives", "x" * 128])
def test_good_names(name: str) -> None:
    assert name_violations(name, "f") == []


@pytest.mark.parametrize("name", ["", "-a", ".a", "_a", "a b", "a/b", "é", "x" * 129])
def test_bad_names(name: str) -> None:
    assert [field for field, _ in name_violations(name, "f")] == ["f"]


def _db(**fields: object) -> DatabaseTargetSpec:
    values: dict[str, object] = {
        "engine": "postgresql",
        "server_name": "db1.example.com",
        "port": 0,
        "database_name": "app",
        "options": {},
    }
    values.update(fields)
    return DatabaseTargetSpec(**values)  # type: ignore[arg-type]


def test_identity_ignores_case_and_default_port() -> None:
    assert _db().identity_key() == _db(server_name="DB1.Example.COM", port=5432).identity_key()
    assert _db().identity_key() != _db(port=5433).identity_key()
    assert _db().identity_key() != _db(database_name="App").identity_key()
    assert _db().identity_key() != _db(options={"sslmode": "require"}).identity_key()
    assert (
        _db(options={"sslmode": "require", "sslsni": "1"}).identity_key()
        == _db(options={"sslsni": "1", "sslmode": "require"}).identity_key()
    )
    assert _db(engine="mysql").identity_key() != _db().identity_key()


def test_sqlite_ignores_server_and_port() -> None:
    one = _db(engine="sqlite", server_name="", database_name="a/b.db")
    two = _db(engine="sqlite", server_name="whatever", port=9, database_name="a/b.db")
    assert one.identity_key() == two.identity_key()
    assert two.normalised().server_name == "" and two.normalised().port == 0


@pytest.mark.parametrize(
    "path",
    ["/abs.db", "\\\\server\\share\\x.db", "C:\\x.db", "../x.db", "a/../../x.db", "a\\..\\x"],
)
def test_sqlite_paths_refused(path: str) -> None:
    spec = _db(engine="sqlite", server_name="", database_name=path)
    assert [f for f, _ in database_target_violations(spec, "t")] == ["t.database_name"]


@pytest.mark.parametrize("path", ["x.db", "tenants/a.db", "a..b.db", "./x.db"])
def test_sqlite_paths_allowed(path: str) -> None:
    spec = _db(engine="sqlite", server_name="", database_name=path)
    assert database_target_violations(spec, "t") == []


@pytest.mark.parametrize(
    ("options", "bad"),
    [
        ({"password": "x"}, "t.options[password]"),
        ({"PWD": "x"}, "t.options[PWD]"),
        ({"db_passwd": "x"}, "t.options[db_passwd]"),
        ({"extra": "UID=a;PWD=secret"}, "t.options[extra]"),
        ({"bad key": "x"}, "t.options"),
    ],
)
def test_options_never_carry_passwords(options: dict[str, str], bad: str) -> None:
    problems = database_target_violations(_db(options=options), "t")
    assert [field for field, _ in problems] == [bad]
    assert all("secret" not in why for _, why in problems)


def test_odbc_needs_a_driver_and_refuses_a_dsn() -> None:
    assert database_target_violations(_db(engine="odbc"), "t") == [
        (
            "t.options",
            "an odbc target needs options[driver]: the name of an ODBC driver registered in "
            "odbcinst.ini on the executor hosts",
        )
    ]
    problems = dict(database_target_violations(_db(engine="odbc", options={"dsn": "x"}), "t"))
    assert "odbc.ini on each executor host" in problems["t.options[dsn]"]
    assert "t.options" in problems
    ok = {"driver": "MariaDB Unicode", "OPTION": "67108864"}
    assert database_target_violations(_db(engine="odbc", options=ok), "t") == []


@pytest.mark.parametrize(
    ("engine", "options", "bad"),
    [
        ("odbc", {"driver": "PostgreSQL Unicode", "pqopt": "hostaddr=10.0.0.9"}, "pqopt"),
        ("odbc", {"driver": "PostgreSQL Unicode", "CX": "1"}, "CX"),
        ("odbc", {"driver": "MariaDB Unicode", "SOCKET": "/run/x.sock"}, "SOCKET"),
        ("odbc", {"driver": "MariaDB Unicode", "PLUGIN_DIR": "/tmp"}, "PLUGIN_DIR"),
        ("odbc", {"driver": "/tmp/libevil.so"}, "driver"),
        ("odbc", {"driver": "PostgreSQL Unicode", "sslmode": "require}"}, "sslmode"),
        ("odbc", {"driver": "ODBC Driver 18 for SQL Server", "Address": "10.0.0.9"}, "Address"),
        ("postgresql", {"hostaddr": "10.0.0.9"}, "hostaddr"),
        ("postgresql", {"service": "other"}, "service"),
        ("mysql", {"unix_socket": "/run/x.sock"}, "unix_socket"),
        ("mysql", {"read_default_file": "/etc/my.cnf"}, "read_default_file"),
        ("mysql", {"ssl_ca": "relative/ca.pem"}, "ssl_ca"),
        ("mssql", {"Failover_Partner": "10.0.0.9"}, "Failover_Partner"),
        ("sqlite", {"uri": "file:/etc/passwd"}, "uri"),
    ],
)
def test_options_off_the_allow_list_are_refused(
    engine: str, options: dict[str, str], bad: str
) -> None:
    spec = _db(engine=engine, options=options)
    if engine == "sqlite":
        spec = _db(engine=engine, server_name="", options=options, database_name="a.db")
    problems = database_target_violations(spec, "t")
    assert [field for field, _ in problems] == [f"t.options[{bad}]"]


def test_at_most_64_options() -> None:
    many = {f"x{index}": "1" for index in range(65)}
    assert database_target_violations(_db(options=many), "t") == [
        ("t.options", "at most 64 options, not 65")
    ]


def test_policy_inherits_and_merges() -> None:
    own = PolicyValues(maximum_attempts=3)
    assert effective(own).maximum_attempts == 3
    assert effective(own).job_timeout_ms == DEFAULT_POLICY.job_timeout_ms
    # Without a mask only given fields change; with one, an unset masked field is cleared.
    changed = merge(own, PolicyValues(job_timeout_ms=1000), None)
    assert changed == PolicyValues(maximum_attempts=3, job_timeout_ms=1000)
    cleared = merge(changed, PolicyValues(), ["maximum_attempts"])
    assert cleared == PolicyValues(job_timeout_ms=1000)


def test_policy_rules() -> None:
    assert policy_violations("p", PolicyValues()) == []
    assert [
        f for f, _ in policy_violations("p", PolicyValues(initial_retry_interval_ms=2 * 3600_000))
    ] == ["execution_policy.initial_retry_interval"]
    bad = PolicyValues(
        job_timeout_ms=0,
        retry_interval_backoff_coefficient=float("nan"),
        maximum_attempts=0,
        non_retryable_error_classes=("ok_class", "bad class"),
    )
    assert {f for f, _ in policy_violations("p", bad)} == {
        "execution_policy.job_timeout",
        "execution_policy.retry_interval_backoff_coefficient",
        "execution_policy.maximum_attempts",
        "execution_policy.non_retryable_error_classes[1]",
    }


def _job(**fields: object) -> JobSpec:
    values: dict[str, object] = {
        "name": "j",
        "content_name": "c",
        "credential_name": "cred",
        "target_id": "00000000-0000-4000-8000-000000000000",
        "execution_policy_name": "p",
        "result_destination": ResultDestinationSpec(
            engine="sqlite",
            server_name="",
            port=0,
            database_name="r.db",
            schema_name="",
            table_name="t",
            credential_name="",
        ),
        "allow_concurrent_executions": True,
    }
    values.update(fields)
    return JobSpec(**values)  # type: ignore[arg-type]


def test_job_merge() -> None:
    current = _job()
    given = _job(
        content_name="c2",
        credential_name="",
        execution_policy_name="",
        result_destination=None,
        allow_concurrent_executions=False,
    )
    # No mask: empty strings, an absent destination and false are "not given".
    assert merge_job(current, given, None) == _job(content_name="c2")
    # A mask replaces exactly its fields, clearing them when empty.
    assert merge_job(current, given, ["credential_name", "result_destination"]) == _job(
        credential_name="", result_destination=None
    )


def test_credential_required_unless_all_sqlite() -> None:
    assert not credential_required(set())
    assert not credential_required({"sqlite"})
    assert credential_required({"sqlite", "mysql"})
