"""A MySQL/MariaDB password outside Latin-1 travels as UTF-8, and never into an error.

PyMySQL encodes a str password as Latin-1: `€` made it raise UnicodeEncodeError, whose repr
(with the password in it) became the task's error.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from fleetjobs.executor.connectors import DatabaseAddress, Login, MysqlConnector, ScriptError
from fleetjobs.testing._fleet import mariadb_user
from fleetjobs.testing._servers import (
    unique_name,
)

# Not Latin-1, with a backslash and both quotes: what defeated the scrubber.
EURO_PASSWORD = "pa€s\\w'\"d"
connector = MysqlConnector()


@pytest.fixture
def euro_login(maria_database: str) -> Iterator[Login]:
    """A user whose password the server hashed from its UTF-8 bytes."""
    user = unique_name("fjx_eu")
    with mariadb_user(user, EURO_PASSWORD, databases=[maria_database]):
        yield Login(user, EURO_PASSWORD)


def test_a_password_outside_latin1_logs_in(
    maria_address: DatabaseAddress, euro_login: Login
) -> None:
    outcome = connector.run_script(
        maria_address, euro_login, "SELECT CURRENT_USER() AS who", timeout_seconds=30
    )
    assert outcome.first_result_set is not None
    assert outcome.first_result_set.rows[0][0].startswith(euro_login.username + "@")


def test_the_side_connection_logs_in_with_the_same_password(
    maria_address: DatabaseAddress, euro_login: Login
) -> None:
    # KILL CONNECTION (the deadline, a lost executor's session) runs on a second connection
    # of the same login: it must log in too. No session has this id, so nothing is ended.
    ended = connector.end_orphaned_session(
        maria_address, euro_login, "4000000000", running_since=datetime.now(UTC)
    )
    assert ended is False


def test_a_wrong_password_is_refused_by_the_server_and_not_echoed(
    maria_address: DatabaseAddress, euro_login: Login
) -> None:
    wrong = Login(euro_login.username, EURO_PASSWORD + "€")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_address, wrong, "SELECT 1", timeout_seconds=30)
    assert caught.value.error_class == "authentication_error"
    assert "€" not in caught.value.message


def test_a_password_that_is_not_unicode_text_is_refused_before_connecting(
    maria_address: DatabaseAddress, euro_login: Login
) -> None:
    broken = Login(euro_login.username, "qz\udc80jk\\w'\"d")
    with pytest.raises(ScriptError) as caught:
        connector.run_script(maria_address, broken, "SELECT 1", timeout_seconds=30)
    assert caught.value.refused
    assert caught.value.error_class == "refused"
    assert "not valid Unicode text" in caught.value.message
    assert "qz" not in caught.value.message
    assert "udc80" not in caught.value.message
