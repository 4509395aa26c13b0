"""Every log line is scrubbed against the passwords this process decrypted: an exception nobody
expected may carry one in its message or arguments, and `log.exception` prints both."""

from __future__ import annotations

import io
import logging
import uuid

import pytest

from fleetjobs.core.crypto import LiveSecrets, live_secrets
from fleetjobs.core.crypto._forms import secret_forms
from fleetjobs.core.logs._setup import _ConsoleFormatter, _JsonFormatter


def _logged(formatter: logging.Formatter, password: str) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    log = logging.getLogger(f"test.mask.{uuid.uuid4().hex}")
    log.propagate = False
    log.addHandler(handler)
    try:
        raise UnicodeEncodeError("latin-1", password, 2, 3, "ordinal not in range(256)")
    except UnicodeEncodeError as error:
        try:
            raise RuntimeError(f"connect(password={password!r}) failed") from error
        except RuntimeError:
            log.exception("rpc failed: %r", {"password": password, "args": (password,)})
    return stream.getvalue()


@pytest.mark.parametrize("formatter", [_JsonFormatter("t"), _ConsoleFormatter("t")])
def test_a_decrypted_password_is_masked_in_every_spelling_of_a_logged_exception(
    formatter: logging.Formatter,
) -> None:
    password = f"pa€s\\w'\"d-{uuid.uuid4().hex[:6]}"
    before = _logged(formatter, password)
    assert any(form in before for form in secret_forms(password))  # what the mask must stop

    live_secrets.remember(password)
    after = _logged(formatter, password)

    assert "***" in after
    for form in secret_forms(password):
        assert form not in after
    assert "UnicodeEncodeError" in after and "rpc failed" in after  # still says what happened


def test_the_oldest_secret_is_forgotten_past_the_limit() -> None:
    secrets = LiveSecrets(limit=2)
    secrets.remember("first-secret")
    secrets.remember("second-secret")
    secrets.remember("first-secret")  # recent again
    secrets.remember("third-secret")
    assert secrets.snapshot() == ("first-secret", "third-secret")
    secrets.remember("")
    assert secrets.snapshot() == ("first-secret", "third-secret")


def test_the_pattern_is_built_once_per_set_not_per_line() -> None:
    # Every log line is scrubbed: rebuilding a pattern over hundreds of secrets for each one
    # would stall every service's event loop.
    secrets = LiveSecrets()
    for index in range(3):
        secrets.remember(f"secret-number-{index}")
    assert secrets.scrub("a secret-number-1 here") == "a *** here"
    built = secrets._pattern
    assert secrets.scrub("and secret-number-2") == "and ***"
    assert secrets._pattern is built
    secrets.remember("another-secret")
    assert secrets.scrub("another-secret") == "***"
    assert secrets._pattern is not built
