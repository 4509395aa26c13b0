"""A MariaDB result destination whose login's password is not Latin-1 (issue 8, item 3, on the
results service's side): PyMySQL encodes a `str` password as Latin-1, so `€` failed with a
UnicodeEncodeError whose text — stored as the children's refusal — named a character of the
password and its position. The password now goes to PyMySQL as UTF-8 bytes, outside the URL;
one that cannot be sent is refused without saying anything about it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pymysql
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from fleetjobs.core.clients import CredentialRefusedError, Secret
from fleetjobs.core.crypto._forms import secret_forms
from fleetjobs.core.db import make_async_engine, make_session_factory, utcnow
from fleetjobs.core.sql import CanonicalType, encode_rows
from fleetjobs.events.v1 import events_pb2
from fleetjobs.results.destination import (
    DestinationRefusedError,
    build_destination_url,
    destination_connect_args,
)
from fleetjobs.results.events.batch_writer import BatchWriter
from fleetjobs.results.events.write_failures import refusal_text
from fleetjobs.testing._control_rows import child_row
from fleetjobs.testing._fleet import mariadb_login_with_databases
from fleetjobs.testing._nats import NatsProcess
from fleetjobs.testing._result_batches import result_batch_bus
from fleetjobs.testing._servers import (
    MARIADB_HOST,
    MARIADB_PORT,
    unique_name,
)
from fleetjobs.v1 import catalog_resources_pb2 as resources

# Not Latin-1, with a backslash and both quotes.
PASSWORD = "pa€s\\w'\"d"
# A lone surrogate: no encoding can send it.
NOT_UNICODE = "pa\ud800€s\\w'\"d"
COLUMNS = [("n", CanonicalType.INTEGER), ("label", CanonicalType.TEXT)]


@pytest.fixture(scope="module")
def euro_user(mariadb: None) -> Iterator[tuple[str, str]]:
    """A MariaDB user whose password the server hashed from its UTF-8 bytes, and its database."""
    user = unique_name("fjr_eu")
    with mariadb_login_with_databases(1, username=user, password=PASSWORD) as (database,):
        yield user, database


class _Credentials:
    """The catalog's part, played by hand: every credential is this login."""

    def __init__(self, username: str, password: str) -> None:
        self._secret = Secret(username=username, password=password)

    async def resolve(
        self, credential_name: str, *, server_name: str, port: int, engine: str
    ) -> Secret:
        if not credential_name:
            raise CredentialRefusedError("no credential is named for this server")
        return self._secret


def _batches(control_db: str, database: str, tables: Sequence[str]) -> list[events_pb2.ResultBatch]:
    """One batch of two rows per table, each of a new IN_PROGRESS child."""
    parent = str(uuid.uuid4())
    batches: list[events_pb2.ResultBatch] = []
    engine = create_engine(control_db)
    try:
        with Session(engine) as session:
            for table in tables:
                child = str(uuid.uuid4())
                session.add(
                    child_row(
                        parent,
                        "collect",
                        utcnow(),
                        job_execution_id=child,
                        engine="postgresql",
                        server_name="srv1",
                        port=5432,
                        database_name="tenant",
                        lifecycle="IN_PROGRESS",
                        current_attempt=1,
                    )
                )
                message = events_pb2.ResultBatch(
                    job_execution_id=child,
                    parent_job_execution_id=parent,
                    attempt=1,
                    engine="postgresql",
                    server_name="srv1",
                    database_name="tenant",
                    destination=resources.ResultDestination(
                        engine="mysql",
                        server_name=MARIADB_HOST,
                        port=MARIADB_PORT,
                        database_name=database,
                        table_name=table,
                        credential_name="dest-login",
                    ),
                    columns=[events_pb2.Column(name=n, type=k.value) for n, k in COLUMNS],
                    rows=encode_rows(COLUMNS, [(1, "a€"), (2, "b")]),
                )
                message.collected_at.GetCurrentTime()
                batches.append(message)
            session.commit()
    finally:
        engine.dispose()
    return batches


async def _deliver(
    nats_url: str,
    control_db: str,
    tmp_path: Path,
    credentials: _Credentials,
    batches: Sequence[events_pb2.ResultBatch],
) -> list[events_pb2.ResultOutcome]:
    control = make_async_engine(control_db)
    try:
        async with result_batch_bus(nats_url) as bus:
            writer = BatchWriter(
                sessions=make_session_factory(control),
                credentials=credentials,  # type: ignore[arg-type]
                js=bus.js,
                names=bus.names,
                sqlite_root=tmp_path / "sqlite",
            )
            try:
                await writer.handle_batch(await bus.publish_and_fetch(batches))
                await bus.assert_all_settled()
                for _ in range(100):  # the outcomes come through the subscription
                    if len(bus.outcomes) >= len(batches):
                        break
                    await asyncio.sleep(0.05)
                return list(bus.outcomes)
            finally:
                await writer.close()
    finally:
        await control.dispose()


def _assert_never_shown(password: str, texts: Sequence[str]) -> None:
    forms = secret_forms(password) | {"\\u20ac", "€", "position"}
    for text in texts:
        leaked = sorted(form for form in forms if form in text)
        assert not leaked, f"{text!r} shows the password: {leaked}"


def _rows(user: str, database: str, table: str) -> list[tuple[Any, ...]]:
    connection = pymysql.connect(
        host=MARIADB_HOST,
        port=MARIADB_PORT,
        user=user,
        password=PASSWORD.encode(),
        database=database,
        charset="utf8mb4",
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT n, label FROM `{table}` ORDER BY n")
            return list(cursor.fetchall())
    finally:
        connection.close()


def test_rows_reach_a_mariadb_destination_whose_password_is_not_latin1(
    euro_user: tuple[str, str], nats_server: NatsProcess, sqlite_control_db: str, tmp_path: Path
) -> None:
    user, database = euro_user
    batches = _batches(sqlite_control_db, database, ["collected"])
    outcomes = asyncio.run(
        _deliver(
            nats_server.url, sqlite_control_db, tmp_path, _Credentials(user, PASSWORD), batches
        )
    )
    assert [(o.ok, o.rows_written, o.message) for o in outcomes] == [(True, 2, "")]
    assert _rows(user, database, "collected") == [(1, "a€"), (2, "b")]


def test_a_password_that_is_not_unicode_is_refused_without_a_trace_of_it(
    euro_user: tuple[str, str], nats_server: NatsProcess, sqlite_control_db: str, tmp_path: Path
) -> None:
    user, database = euro_user
    batches = _batches(sqlite_control_db, database, ["refused"])
    outcomes = asyncio.run(
        _deliver(
            nats_server.url, sqlite_control_db, tmp_path, _Credentials(user, NOT_UNICODE), batches
        )
    )
    assert [(o.ok, o.rows_written) for o in outcomes] == [(False, 0)]
    assert outcomes[0].message == "the password cannot be sent: it is not valid Unicode text"
    _assert_never_shown(NOT_UNICODE, [o.message for o in outcomes])


def test_the_mysql_password_stays_out_of_the_url(tmp_path: Path) -> None:
    url = build_destination_url("mysql", "h", 3306, "d", "fleet", PASSWORD, sqlite_root=tmp_path)
    assert url.password is None
    for text in (str(url), repr(url), url.render_as_string(hide_password=False)):
        _assert_never_shown(PASSWORD, [text])
    assert destination_connect_args("mysql", PASSWORD) == {"password": PASSWORD.encode()}
    assert destination_connect_args("mysql", "") == {}
    # The other engines' passwords are in their URL (psycopg sends them as UTF-8).
    assert destination_connect_args("postgresql", PASSWORD) == {}
    assert destination_connect_args("sqlite", PASSWORD) == {}
    for engine in ("mysql", "postgresql"):
        with pytest.raises(DestinationRefusedError) as refused:
            destination_connect_args(engine, NOT_UNICODE)
        assert str(refused.value) == "the password cannot be sent: it is not valid Unicode text"


def test_a_unicode_error_is_stored_by_its_kind_only() -> None:
    try:
        PASSWORD.encode("latin-1")
    except UnicodeEncodeError as error:
        text = refusal_text(error, [PASSWORD])
    assert "latin-1" in text
    _assert_never_shown(PASSWORD, [text])
