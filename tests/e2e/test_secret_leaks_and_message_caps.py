"""A password never reaches a task's error, the API or the logs, whatever its spelling; a task
keeps at most 1,000 messages / 256 KiB of them, and says how many more it dropped.

Reproduces issue 8 (items 3 and 4): PyMySQL failed on `€` and the task stored the repr of
its UnicodeEncodeError, password included, past the scrubber; 120,000 NOTICEs were stored
whole and ListJobTaskExecutions then failed RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fleetjobs.core.crypto._forms import secret_forms
from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.executor.connectors import SqliteConnector
from fleetjobs.testing import _api as api
from fleetjobs.testing._fleet import mariadb_login_with_databases, postgres_login_with_databases
from fleetjobs.testing._servers import (
    unique_name,
)
from fleetjobs.testing._suite import RunningSuite
from fleetjobs.v1 import execution_service_pb2 as e

# Not Latin-1, with a backslash and both quotes.
PASSWORD = "pa€s\\w'\"d"


@pytest.fixture(scope="module")
def control_db_url(sqlite_control_db: str) -> str:
    """SQLite only, for speed; and a file whose bytes the test can search."""
    return sqlite_control_db


@pytest.fixture(scope="module")
def euro_user(mariadb: None) -> Iterator[tuple[str, str]]:
    """A MariaDB user whose password the server hashed from its UTF-8 bytes, and its database."""
    user = unique_name("fjt_eu")
    with mariadb_login_with_databases(1, username=user, password=PASSWORD) as (database,):
        yield user, database


def _attempts(suite: RunningSuite, child_id: str) -> list[Any]:
    reply = suite.executions.ListJobTaskExecutions(
        e.ListJobTaskExecutionsRequest(job_execution_id=child_id)
    )
    return sorted(reply.job_task_executions, key=lambda attempt: attempt.attempt)


def _control_db_text(suite: RunningSuite) -> str:
    """Every value in the control database, except the scripts (which the user wrote, and
    which may name the password on purpose)."""
    path = suite.settings.control_db_url.removeprefix("sqlite:///")
    values: list[str] = []
    with contextlib.closing(sqlite3.connect(path)) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            for row in cursor:
                values.extend(
                    repr(value)
                    for column, value in zip(columns, row, strict=True)
                    if column != "command_text"
                )
    return "\n".join(values)


def _assert_nowhere(password: str, suite: RunningSuite, *shown: object, logs: str) -> None:
    forms = secret_forms(password)
    texts = {
        "api": "\n".join(str(item) for item in shown),
        "logs": logs,
        "control database": _control_db_text(suite),
    }
    for where, text in texts.items():
        leaked = sorted(form for form in forms if form in text)
        assert not leaked, f"the password shows in the {where}: {leaked}"


def test_a_password_outside_latin1_logs_in_and_never_shows(
    suite: RunningSuite, euro_user: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    user, database = euro_user
    credential = api.credential(suite, username=user, password=PASSWORD, allowed=["127.0.0.1"])
    target = api.database_target(suite, engine="mysql", server="127.0.0.1", database=database)
    once = api.policy(suite, initial_ms=100, maximum_ms=100, coefficient=1.0, attempts=1)

    def run(script: str) -> Any:
        job = api.job(
            suite,
            content_name=api.content(suite, script),
            target_id=target,
            credential_name=credential,
            policy_name=once,
        )
        return api.run(suite, job)

    logged_in = run("SELECT CURRENT_USER() AS who;")
    # A database error that quotes the password back: the scrubber must catch it in every
    # spelling (MariaDB echoes the table name it could not find).
    echoed = run(f"SELECT 1 FROM `{PASSWORD}`;")

    assert Lifecycle.from_proto(logged_in.lifecycle) is Lifecycle.SUCCEEDED
    (failed,) = echoed.child_executions
    assert Lifecycle.from_proto(failed.lifecycle) is Lifecycle.FAILED
    assert "doesn't exist" in failed.message
    attempts = [
        attempt
        for execution in (logged_in, echoed)
        for child in execution.child_executions
        for attempt in _attempts(suite, child.job_execution_id)
    ]
    assert [a.error_class for a in attempts] == ["", "undefined_object"]
    _assert_nowhere(PASSWORD, suite, logged_in, echoed, *attempts, logs=caplog.text)


def test_an_unexpected_exception_is_recorded_by_its_type_only_and_not_retried(
    suite: RunningSuite, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO)
    secret = f"qz€{uuid.uuid4().hex[:6]}\\w'\"d"

    def fail(*args: object, **kwargs: object) -> None:
        # What PyMySQL raised: the exception carries the whole password.
        raise UnicodeEncodeError("latin-1", secret, 2, 3, "ordinal not in range(256)")

    monkeypatch.setattr(SqliteConnector, "run_script", fail)
    job = api.job(
        suite,
        content_name=api.content(suite, "SELECT 1 AS one;"),
        target_id=api.database_target(suite, engine="sqlite", database="internal/x.db"),
        policy_name=api.policy(suite, initial_ms=100, maximum_ms=100, coefficient=1.0, attempts=5),
    )

    execution = api.run(suite, job)

    (child,) = execution.child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.FAILED
    assert "UnicodeEncodeError" in child.message
    (attempt,) = _attempts(suite, child.job_execution_id)  # `internal` is never retried
    assert attempt.error_class == "internal"
    assert "attempt failed inside fleetjobs" in caplog.text
    # Nobody told the scrubber about this secret: only not recording it keeps it out.
    _assert_nowhere(secret, suite, execution, attempt, logs=caplog.text)
    assert "u20ac" not in child.message and "position" not in child.message


def test_120000_notices_keep_the_first_thousand_and_say_how_many_dropped(
    suite: RunningSuite, postgres: None
) -> None:
    user, password = unique_name("fjt_n"), "notice-pass"
    with postgres_login_with_databases(1, username=user, password=password) as (database,):
        credential = api.credential(suite, username=user, password=password, allowed=["127.0.0.1"])
        job = api.job(
            suite,
            content_name=api.content(
                suite,
                "DO $$ BEGIN FOR i IN 1..120000 LOOP RAISE NOTICE 'n %', i; END LOOP; END $$;",
            ),
            target_id=api.database_target(
                suite, engine="postgresql", server="127.0.0.1", database=database
            ),
            credential_name=credential,
        )
        execution = api.run(suite, job)

    (child,) = execution.child_executions
    assert Lifecycle.from_proto(child.lifecycle) is Lifecycle.SUCCEEDED
    (attempt,) = _attempts(suite, child.job_execution_id)  # the listing answers
    messages = list(attempt.messages)
    assert len(messages) == 1_001
    assert messages[0] == "NOTICE: n 1"
    assert messages[-1] == "119000 more messages dropped"
    assert sum(len(m.encode()) for m in messages[:-1]) <= 256 * 1024


def test_a_mariadb_fleet_login_still_works(suite: RunningSuite, mariadb: None) -> None:
    # ASCII passwords are the same bytes in UTF-8 and Latin-1: nothing changes for them.
    user, password = unique_name("fjt_a"), "plain-ascii-pass"
    with mariadb_login_with_databases(1, username=user, password=password) as (database,):
        credential = api.credential(suite, username=user, password=password, allowed=["127.0.0.1"])
        job = api.job(
            suite,
            content_name=api.content(suite, "SELECT 1 AS one;"),
            target_id=api.database_target(
                suite, engine="mysql", server="127.0.0.1", database=database
            ),
            credential_name=credential,
        )
        assert Lifecycle.from_proto(api.run(suite, job).lifecycle) is Lifecycle.SUCCEEDED


def test_a_listing_of_attempts_at_the_message_cap_pages_under_the_grpc_limit(
    suite: RunningSuite, postgres: None
) -> None:
    # 18 attempts of ~256 KiB each are over the 4 MiB a gRPC client receives by default: a
    # page of 100 is cut short by bytes, and paging on yields every attempt exactly once.
    user, password = unique_name("fjt_p"), "paging-pass"
    noisy_failure = (
        "DO $$ BEGIN FOR i IN 1..1000 LOOP RAISE NOTICE '%', repeat('x', 300); END LOOP; END $$;"
        " SELECT 1/0;"
    )
    with postgres_login_with_databases(1, username=user, password=password) as (database,):
        credential = api.credential(suite, username=user, password=password, allowed=["127.0.0.1"])
        job = api.job(
            suite,
            content_name=api.content(suite, noisy_failure),
            target_id=api.database_target(
                suite, engine="postgresql", server="127.0.0.1", database=database
            ),
            credential_name=credential,
            policy_name=api.policy(
                suite, initial_ms=10, maximum_ms=10, coefficient=1.0, attempts=18
            ),
        )
        execution = api.run(suite, job)

    assert Lifecycle.from_proto(execution.lifecycle) is Lifecycle.FAILED
    seen: list[int] = []
    pages = 0
    token = ""
    while True:
        reply = suite.executions.ListJobTaskExecutions(
            e.ListJobTaskExecutionsRequest(
                job_execution_id=execution.job_execution_id, page_size=100, page_token=token
            )
        )
        pages += 1
        assert reply.ByteSize() < 4 * 1024 * 1024
        seen += [attempt.attempt for attempt in reply.job_task_executions]
        token = reply.next_page_token
        if not token:
            break
    assert sorted(seen) == list(range(1, 19))
    assert pages >= 2
