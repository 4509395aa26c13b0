"""Which exceptions out of a message handler are worth a redelivery (`is_transient`), with
real exception instances: a control-database connection lost mid-transaction must bring the
message back, never fail its work for good as `internal`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy import exc as sa_errors
from sqlalchemy.pool import QueuePool

from fleetjobs.core.db import make_async_engine, make_session_factory
from fleetjobs.core.messaging import is_transient
from fleetjobs.testing._servers import POSTGRES_ADMIN_URL


def _raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except Exception as error:
        return error
    raise AssertionError("nothing was raised")


def test_a_connection_closed_under_the_handler_is_transient(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        conn = engine.connect()
        conn.close()
        closed = _raised(lambda: conn.execute(text("SELECT 1")))
        assert isinstance(closed, sa_errors.ResourceClosedError)
        assert is_transient(closed)
    finally:
        engine.dispose()


def test_reading_a_result_the_code_should_not_read_is_not_transient(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        with engine.connect() as conn:
            no_rows = _raised(lambda: conn.execute(text("CREATE TABLE t (x INT)")).fetchall())
            assert isinstance(no_rows, sa_errors.ResourceClosedError)
            assert not is_transient(no_rows)
            result = conn.execute(text("SELECT 1"))
            result.close()
            assert not is_transient(_raised(result.fetchall))
            conn.execute(text("CREATE UNIQUE INDEX u ON t (x)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            duplicate = _raised(lambda: conn.execute(text("INSERT INTO t VALUES (1)")))
            assert isinstance(duplicate, sa_errors.IntegrityError)
            assert not is_transient(duplicate)
    finally:
        engine.dispose()


def test_a_pool_timeout_and_a_disconnect_are_transient(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'p.db'}",
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=0,
        pool_timeout=0.05,
    )
    try:
        with engine.connect():
            timeout = _raised(engine.connect)
        assert isinstance(timeout, sa_errors.TimeoutError)
        assert is_transient(timeout)
    finally:
        engine.dispose()
    assert is_transient(sa_errors.DisconnectionError("the pool found the connection dead"))


def test_a_connection_fault_down_the_chain_is_transient() -> None:
    def wrapped(cause: BaseException, *, suppress: bool = False) -> BaseException:
        try:
            try:
                raise cause
            except BaseException:
                if suppress:
                    raise RuntimeError("wrapped") from None
                raise RuntimeError("wrapped")  # noqa: B904 (the implicit __context__ is the point)
        except RuntimeError as error:
            return error

    assert is_transient(wrapped(ConnectionResetError("reset by peer")))
    assert is_transient(wrapped(wrapped(sa_errors.DisconnectionError("gone"))))
    explicit = RuntimeError("wrapped")
    explicit.__cause__ = ConnectionRefusedError()
    assert is_transient(explicit)
    # A suppressed context says nothing, and a wrapped fault of the data is no connection's.
    assert not is_transient(wrapped(ConnectionResetError(), suppress=True))
    assert not is_transient(wrapped(ValueError("bad value")))
    assert not is_transient(RuntimeError("a bug"))
    assert not is_transient(sa_errors.InvalidRequestError("a misuse"))
    # A cycle ends the walk.
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert not is_transient(first)


@pytest.mark.postgres
def test_the_control_database_dropping_a_session_mid_transaction_is_transient(
    postgres: None,
) -> None:
    """The control database's own async engine: its backend is terminated between two
    statements of one transaction. The statement that meets the dead connection, and the
    next one on the same session, both leave the message to come back."""

    async def scenario() -> tuple[BaseException, BaseException]:
        engine = make_async_engine(POSTGRES_ADMIN_URL, pool_size=1)
        try:
            async with make_session_factory(engine)() as session:
                await session.begin()
                pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                try:
                    await session.execute(text("SELECT 1"))
                except Exception as error:
                    lost = error
                try:
                    await session.execute(text("SELECT 1"))
                except Exception as error:
                    pending = error
                return lost, pending
        finally:
            await engine.dispose()

    lost, pending = asyncio.run(scenario())
    assert isinstance(lost, sa_errors.DBAPIError)
    assert lost.connection_invalidated
    assert is_transient(lost)
    assert isinstance(pending, sa_errors.PendingRollbackError)
    assert is_transient(pending)


@pytest.mark.postgres
def test_sql_the_server_cannot_run_is_not_transient(postgres: None) -> None:
    # A statement bug fails the same way on every redelivery: it ends that message's work.
    engine = create_engine(POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            missing = _raised(lambda: conn.execute(text("SELECT * FROM fleetjobs_no_such_table")))
    finally:
        engine.dispose()
    assert isinstance(missing, sa_errors.ProgrammingError)
    assert not is_transient(missing)
