"""A custom collection of PostgreSQL, MariaDB and SQLite databases, one job, one destination
table: the seeds' main scenario, driven through the generated gRPC clients."""

from __future__ import annotations

import uuid
from collections import Counter

import psycopg

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._fleet import Login
from fleetjobs.testing._servers import odbc_driver, postgres_url
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import results_service_pb2 as rs

# Idempotent (a rerun leaves the same state) and portable across the three engines.
SCRIPT = """
CREATE TABLE IF NOT EXISTS TestTable (TestTableId INT PRIMARY KEY, Label VARCHAR(50));
DELETE FROM TestTable WHERE TestTableId = 1;
INSERT INTO TestTable (TestTableId, Label) VALUES (1, 'fleetjobs');
SELECT TestTableId AS test_table_id, Label AS label FROM TestTable;
SELECT 'a second result set is never collected' AS ignored;
"""


def _destination_rows(database: str, table: str, execution_id: str) -> Counter[tuple[str, str]]:
    with psycopg.connect(postgres_url(database)) as conn:
        rows = conn.execute(
            f'SELECT target_engine, target_database_name FROM "{table}" '
            "WHERE job_execution_id = %s",
            (execution_id,),
        ).fetchall()
    return Counter((engine, name) for engine, name in rows)


def test_one_row_set_per_database_across_engines(
    suite: RunningSuite,
    login: Login,
    postgres_fleet: list[str],
    mariadb_fleet: list[str],
) -> None:
    *pg_targets, destination_db = postgres_fleet
    sqlite_targets = [f"tenants/{uuid.uuid4().hex[:8]}/t{i}.db" for i in range(5)]
    credential = api.credential(
        suite, username=login.username, password=login.password, allowed=["127.0.0.1"]
    )
    members = (
        [
            api.database_target(suite, engine="postgresql", server="127.0.0.1", database=d)
            for d in pg_targets
        ]
        + [
            api.database_target(suite, engine="mysql", server="127.0.0.1", database=d)
            for d in mariadb_fleet
        ]
        + [api.database_target(suite, engine="sqlite", database=d) for d in sqlite_targets]
    )
    table = f"results_{uuid.uuid4().hex[:8]}"
    job = api.job(
        suite,
        content_name=api.content(suite, SCRIPT),
        target_id=api.collection(suite, members),
        credential_name=credential,
        destination=r.ResultDestination(
            engine="postgresql",
            server_name="127.0.0.1",
            database_name=destination_db,
            table_name=table,
            credential_name=credential,
        ),
    )

    first = api.run(suite, job)

    assert Lifecycle.from_proto(first.lifecycle) is Lifecycle.SUCCEEDED, first.message
    assert len(first.child_executions) == 20
    assert {Lifecycle.from_proto(c.lifecycle) for c in first.child_executions} == {
        Lifecycle.SUCCEEDED
    }
    expected = Counter(
        [("postgresql", d) for d in pg_targets]
        + [("mysql", d) for d in mariadb_fleet]
        + [("sqlite", d) for d in sqlite_targets]
    )
    assert _destination_rows(destination_db, table, first.job_execution_id) == expected
    listed = suite.results.ListResultSets(
        rs.ListResultSetsRequest(job_execution_id=first.job_execution_id)
    ).result_sets
    assert len(listed) == 20
    assert {tuple((c.name, c.type) for c in s.columns) for s in listed} == {
        (("test_table_id", "integer"), ("label", "text"))
    }

    second = api.run(suite, job)

    assert Lifecycle.from_proto(second.lifecycle) is Lifecycle.SUCCEEDED, second.message
    assert _destination_rows(destination_db, table, second.job_execution_id) == expected
    # The first execution's rows are still there, untouched.
    assert _destination_rows(destination_db, table, first.job_execution_id) == expected


def test_the_same_through_the_odbc_engine(
    suite: RunningSuite,
    login: Login,
    postgres_fleet: list[str],
    mariadb_fleet: list[str],
) -> None:
    postgres_driver = odbc_driver("PostgreSQL Unicode")
    mariadb_driver = odbc_driver("MariaDB")
    *pg_targets, destination_db = postgres_fleet
    # ODBC has no default port of its own (only the driver knows it), so a bare entry allows
    # no ODBC target: the ports are named (docs/credentials.md). The bare entry is for the
    # PostgreSQL destination on its default port.
    credential = api.credential(
        suite,
        username=login.username,
        password=login.password,
        allowed=["127.0.0.1", "127.0.0.1:5432", "127.0.0.1:3306"],
    )
    pg_odbc = pg_targets[:3]
    my_odbc = mariadb_fleet[:2]
    members = [
        api.database_target(
            suite,
            engine="odbc",
            server="127.0.0.1",
            port=5432,
            database=d,
            options={"driver": postgres_driver},
        )
        for d in pg_odbc
    ] + [
        api.database_target(
            suite,
            engine="odbc",
            server="127.0.0.1",
            port=3306,
            database=d,
            # MariaDB Connector/ODBC runs several statements per call only with this flag.
            options={"driver": mariadb_driver, "OPTION": "67108864"},
        )
        for d in my_odbc
    ]
    table = f"odbc_{uuid.uuid4().hex[:8]}"
    job = api.job(
        suite,
        content_name=api.content(suite, SCRIPT),
        target_id=api.collection(suite, members),
        credential_name=credential,
        destination=r.ResultDestination(
            engine="postgresql",
            server_name="127.0.0.1",
            database_name=destination_db,
            table_name=table,
            credential_name=credential,
        ),
    )

    execution = api.run(suite, job)

    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.SUCCEEDED, [
        c.message for c in execution.child_executions
    ]
    assert _destination_rows(destination_db, table, execution.job_execution_id) == Counter(
        [("odbc", d) for d in pg_odbc + my_odbc]
    )
