"""The seeds' retry formula and what follows a failed attempt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleetjobs.executor.domain.policy import AfterFailure, EffectivePolicy, decide_after_failure

NOW = datetime(2026, 1, 1, tzinfo=UTC)
FAR = NOW + timedelta(days=7)


def test_delay_before_attempt_n_is_initial_times_coefficient_to_n_minus_2_capped() -> None:
    policy = EffectivePolicy(
        initial_retry_interval_ms=1000,
        retry_interval_backoff_coefficient=2.0,
        maximum_retry_interval_ms=4000,
    )
    delays = [policy.retry_delay(n).total_seconds() for n in range(2, 7)]
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_the_built_in_defaults_match_the_seeds() -> None:
    policy = EffectivePolicy()
    assert policy.job_timeout_ms == 7 * 24 * 3600 * 1000
    assert policy.retry_delay(2) == timedelta(milliseconds=100)
    assert policy.retry_delay(200) == timedelta(minutes=30)
    assert policy.maximum_attempts == 2_147_483_647
    assert policy.non_retryable_error_classes == ()


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert EffectivePolicy().retry_delay(5000) == timedelta(minutes=30)


def test_retry_until_the_last_attempt_then_fail() -> None:
    policy = EffectivePolicy(maximum_attempts=3)
    decide = lambda attempt: decide_after_failure(  # noqa: E731
        policy, attempt=attempt, error_class="other", refused=False, now=NOW, deadline=FAR
    )
    assert decide(1).action is AfterFailure.RETRY
    assert decide(1).retry_at == NOW + timedelta(milliseconds=100)
    assert decide(2).action is AfterFailure.RETRY
    assert decide(3).action is AfterFailure.FAIL


def test_refusals_and_non_retryable_classes_fail_at_once() -> None:
    policy = EffectivePolicy(non_retryable_error_classes=("syntax_error",))
    refused = decide_after_failure(
        policy, attempt=1, error_class="refused", refused=True, now=NOW, deadline=FAR
    )
    permanent = decide_after_failure(
        policy, attempt=1, error_class="syntax_error", refused=False, now=NOW, deadline=FAR
    )
    assert refused.action is AfterFailure.FAIL
    assert permanent.action is AfterFailure.FAIL


def test_a_retry_that_would_start_past_the_deadline_times_out() -> None:
    decision = decide_after_failure(
        EffectivePolicy(initial_retry_interval_ms=5000),
        attempt=1,
        error_class="other",
        refused=False,
        now=NOW,
        deadline=NOW + timedelta(seconds=1),
    )
    assert decision.action is AfterFailure.TIME_OUT


def test_the_job_deadline_times_out_whatever_attempts_remain() -> None:
    # An attempt cut short by fleetjobs' own job deadline: its last attempt or not, the
    # child ends TIMED_OUT, never FAILED.
    for attempts, attempt in ((1, 1), (3, 1), (3, 3)):
        decision = decide_after_failure(
            EffectivePolicy(maximum_attempts=attempts),
            attempt=attempt,
            error_class="job_timeout",
            refused=False,
            now=NOW,
            deadline=NOW,
        )
        assert decision.action is AfterFailure.TIME_OUT, (attempts, attempt)


def test_a_server_statement_timeout_is_an_ordinary_failure() -> None:
    policy = EffectivePolicy(maximum_attempts=2)
    decide = lambda attempt: decide_after_failure(  # noqa: E731
        policy, attempt=attempt, error_class="timeout", refused=False, now=NOW, deadline=FAR
    )
    assert decide(1).action is AfterFailure.RETRY
    assert decide(2).action is AfterFailure.FAIL


def test_internal_errors_are_never_retried_under_any_policy() -> None:
    for policy in (
        EffectivePolicy(),
        EffectivePolicy(maximum_attempts=10, non_retryable_error_classes=()),
        EffectivePolicy(non_retryable_error_classes=("syntax_error",)),
    ):
        decision = decide_after_failure(
            policy, attempt=1, error_class="internal", refused=False, now=NOW, deadline=FAR
        )
        assert decision.action is AfterFailure.FAIL
        assert decision.retry_at is None
