from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, StatementError

from fleetjobs.catalog.api._base import mask_paths, parameters_hidden


def test_database_errors_around_credentials_hide_their_parameters() -> None:
    token = "eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.secret-ciphertext"
    error = IntegrityError("INSERT INTO credentials VALUES (?, ?)", ("c", token), Exception("x"))
    assert token in str(error)  # what SQLAlchemy would log by default
    with pytest.raises(StatementError) as caught, parameters_hidden():
        raise error
    assert token not in str(caught.value)


def test_empty_mask_counts_as_none() -> None:
    assert mask_paths(False, ["a"]) is None
    assert mask_paths(True, []) is None
    assert mask_paths(True, ["a"]) == ["a"]
