"""Fault tests: the suite as `make up` starts it (real processes), killed, stopped and
restarted under load; the tests assert invariants (`_invariants.check_execution`), never
timings. The delivery intervals are shortened through their settings (`FAST_DELIVERY`) so
that a takeover or a reconciliation happens within seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fleetjobs.testing._launched import LauncherSuite


@pytest.fixture
def healed(launched: LauncherSuite) -> Iterator[LauncherSuite]:
    """The module's launched suite; afterwards whatever the test stopped or killed runs
    again (`make up`)."""
    yield launched
    launched.resume_all()
    launched.up()
