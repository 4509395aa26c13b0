"""Scripts PostgreSQL refuses: a syntax error, a division by zero, a table the login may not
read. Each child carries its database's message and class; a policy naming those classes
as permanent fails them after one attempt, while a policy that does not retries them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.testing import _api as api
from fleetjobs.testing._faults import FAST_DELIVERY, postgres_job, start
from fleetjobs.testing._invariants import attempts_of, check_execution, children
from fleetjobs.testing._launched import LauncherSuite, launched_suite
from fleetjobs.testing._servers import POSTGRES_ADMIN_URL, postgres_databases, postgres_url

PERMANENT = ["syntax_error", "division_by_zero", "permission_denied"]


@pytest.fixture(scope="module")
def launched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LauncherSuite]:
    with launched_suite(tmp_path_factory.mktemp("bad-scripts"), env=FAST_DELIVERY) as suite:
        yield suite


@pytest.fixture(scope="module")
def databases(postgres: None) -> Iterator[list[str]]:
    with postgres_databases(4, prefix="fjt_bad") as names:
        yield names


@pytest.fixture(scope="module")
def no_rights_role(databases: list[str]) -> Iterator[str]:
    """A login that may connect but not read `secret` (owned by postgres) in any database."""
    role = f"fjt_norights_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
    for database in databases:
        with psycopg.connect(postgres_url(database), autocommit=True) as conn:
            conn.execute("CREATE TABLE secret (x INT)")
            conn.execute("REVOKE ALL ON secret FROM PUBLIC")
    yield role
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        for database in databases:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'DROP ROLE IF EXISTS "{role}"')


CASES = [
    # (script, login, error class, part of PostgreSQL's message)
    ("SELEC 1 AS one;", "postgres", "syntax_error", 'syntax error at or near "SELEC"'),
    ("SELECT 1 / (SELECT 0) AS x;", "postgres", "division_by_zero", "division by zero"),
    ("SELECT x FROM secret;", None, "permission_denied", "permission denied for table secret"),
]


def test_bad_scripts_fail_with_their_database_message_after_one_attempt(
    launched: LauncherSuite, databases: list[str], no_rights_role: str
) -> None:
    suite = launched
    permanent = api.policy(
        suite, initial_ms=100, maximum_ms=200, coefficient=2, attempts=5, non_retryable=PERMANENT
    )
    retrying = api.policy(suite, initial_ms=100, maximum_ms=200, coefficient=2, attempts=3)
    runs = []
    for index, (script, login, error_class, text) in enumerate(CASES):
        job = postgres_job(
            suite,
            [databases[index]],
            script,
            policy=permanent,
            username=login or no_rights_role,
        )
        runs.append((start(suite, job), databases[index], error_class, text, 1))
    # The same division by zero under a policy that does not call it permanent: retried.
    retried = postgres_job(suite, [databases[3]], CASES[1][0], policy=retrying)
    runs.append((start(suite, retried), databases[3], "division_by_zero", "division by zero", 3))

    for parent, database, error_class, text, attempts in runs:
        execution = suite.wait_terminal(parent, timeout=60)
        assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.FAILED, execution
        (child,) = children(suite.control_db_url, parent)
        assert child.lifecycle is Lifecycle.FAILED
        assert child.database_name == database
        assert text in child.message, child.message
        tried = attempts_of(suite.control_db_url, parent)
        assert [a.attempt for a in tried] == list(range(1, attempts + 1))
        assert {a.error_class for a in tried} == {error_class}
        assert all(text in a.message for a in tried), tried
        assert check_execution(suite.control_db_url, parent, postgres_targets=[database]) == []
