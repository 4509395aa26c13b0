"""A parent's lifecycle from its children's counts."""

from __future__ import annotations

from fleetjobs.core.lifecycle import Lifecycle
from fleetjobs.scheduler.domain.folding import fold_children


def test_waits_while_any_child_runs() -> None:
    assert fold_children({"SUCCEEDED": 3, "WAITING_FOR_RETRY": 1}) is None
    assert fold_children({"CREATED": 1}) is None


def test_succeeded_only_when_every_child_did() -> None:
    outcome = fold_children({"SUCCEEDED": 4})
    assert outcome is not None and outcome.lifecycle is Lifecycle.SUCCEEDED
    assert outcome.message == "4 of 4 databases succeeded"


def test_skipped_children_give_succeeded_with_skipped() -> None:
    outcome = fold_children({"SUCCEEDED": 2, "SKIPPED": 1})
    assert outcome is not None and outcome.lifecycle is Lifecycle.SUCCEEDED_WITH_SKIPPED


def test_one_failure_fails_the_parent_and_says_how_many() -> None:
    outcome = fold_children({"SUCCEEDED": 19, "FAILED": 1})
    assert outcome is not None and outcome.lifecycle is Lifecycle.FAILED
    assert outcome.message == "19 of 20 databases succeeded, 1 failed"


def test_timeouts_and_stops_outrank_failures() -> None:
    timed_out = fold_children({"FAILED": 2, "TIMED_OUT": 1})
    canceled = fold_children({"FAILED": 2, "CANCELED": 3})
    assert timed_out is not None and timed_out.lifecycle is Lifecycle.TIMED_OUT
    assert canceled is not None and canceled.lifecycle is Lifecycle.CANCELED


def test_an_empty_target_succeeds_saying_so() -> None:
    outcome = fold_children({})
    assert outcome is not None and outcome.lifecycle is Lifecycle.SUCCEEDED
    assert "no databases" in outcome.message


def test_the_message_counts_timed_out_and_canceled_children() -> None:
    timed_out = fold_children({"TIMED_OUT": 5})
    assert timed_out is not None and timed_out.lifecycle is Lifecycle.TIMED_OUT
    assert timed_out.message == "0 of 5 databases succeeded, 5 timed out"
    mixed = fold_children({"SUCCEEDED": 1, "FAILED": 1, "TIMED_OUT": 2, "CANCELED": 1})
    assert mixed is not None and mixed.lifecycle is Lifecycle.TIMED_OUT
    assert mixed.message == "1 of 5 databases succeeded, 1 failed, 2 timed out, 1 canceled"
