"""Execution policies as an execution sees them: the effective values snapshotted at start,
the retry formula, and what happens after a failed attempt."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

# The built-in `default` policy's values (see the ExecutionPolicy comment in
# protos/fleetjobs/v1/catalog_resources.proto).
DEFAULT_JOB_TIMEOUT_MS = 7 * 24 * 3600 * 1000
DEFAULT_INITIAL_RETRY_MS = 100
DEFAULT_MAXIMUM_RETRY_MS = 30 * 60 * 1000
DEFAULT_BACKOFF = 2.0
DEFAULT_MAXIMUM_ATTEMPTS = 2_147_483_647


@dataclass(frozen=True)
class EffectivePolicy:
    job_timeout_ms: int = DEFAULT_JOB_TIMEOUT_MS
    initial_retry_interval_ms: int = DEFAULT_INITIAL_RETRY_MS
    maximum_retry_interval_ms: int = DEFAULT_MAXIMUM_RETRY_MS
    retry_interval_backoff_coefficient: float = DEFAULT_BACKOFF
    maximum_attempts: int = DEFAULT_MAXIMUM_ATTEMPTS
    non_retryable_error_classes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        values = asdict(self)
        values["non_retryable_error_classes"] = list(self.non_retryable_error_classes)
        return values

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> EffectivePolicy:
        return cls(
            **{
                **values,
                "non_retryable_error_classes": tuple(values.get("non_retryable_error_classes", ())),
            }
        )

    def retry_delay(self, next_attempt: int) -> timedelta:
        """The delay before attempt n (n ≥ 2): initial × coefficient^(n−2), capped."""
        exponent = max(next_attempt - 2, 0)
        try:
            delay_ms = self.initial_retry_interval_ms * (
                self.retry_interval_backoff_coefficient**exponent
            )
        except OverflowError:
            delay_ms = float(self.maximum_retry_interval_ms)
        return timedelta(milliseconds=min(delay_ms, self.maximum_retry_interval_ms))


# Error classes the policy has no say over (README, "Error classes"):
# - `job_timeout`: fleetjobs' own job deadline cut the attempt short. The execution's time is
#   up, so no attempt can follow: the child ends TIMED_OUT however many attempts remain. (A
#   statement timeout the server itself set is `timeout`, an ordinary, retryable failure.)
# - `internal`: a fault inside fleetjobs (a driver or connector bug). Its message may be all
#   the detail there is, so it is not retried into a week of identical failures: it fails at
#   once, like a refusal, even when `non_retryable_error_classes` is empty.
JOB_TIMEOUT = "job_timeout"
INTERNAL = "internal"


class AfterFailure(Enum):
    RETRY = "retry"
    FAIL = "fail"
    TIME_OUT = "time_out"


@dataclass(frozen=True)
class FailureDecision:
    action: AfterFailure
    retry_at: datetime | None = None
    reason: str = ""


def decide_after_failure(
    policy: EffectivePolicy,
    *,
    attempt: int,
    error_class: str,
    refused: bool,
    now: datetime,
    deadline: datetime,
) -> FailureDecision:
    """What follows a failed attempt, checked in this order:

    1. the job's own deadline cut it short (`job_timeout`): TIMED_OUT, whatever attempts
       remain;
    2. a refusal by fleetjobs, or an `internal` fault: FAILED, never retried;
    3. a class the policy lists as non-retryable: FAILED;
    4. the last of the policy's maximum attempts: FAILED;
    5. the next attempt would start at or past the deadline: TIMED_OUT;
    6. otherwise RETRY after the policy's delay.
    """
    if error_class == JOB_TIMEOUT:
        return FailureDecision(AfterFailure.TIME_OUT, reason="stopped at the job timeout")
    if refused:
        return FailureDecision(AfterFailure.FAIL, reason="refused by fleetjobs; not retried")
    if error_class == INTERNAL:
        return FailureDecision(
            AfterFailure.FAIL, reason="an internal error of fleetjobs; not retried"
        )
    if error_class in policy.non_retryable_error_classes:
        return FailureDecision(
            AfterFailure.FAIL, reason=f"error class {error_class} is not retried by the policy"
        )
    if attempt >= policy.maximum_attempts:
        return FailureDecision(
            AfterFailure.FAIL,
            reason=f"gave up after {attempt} of {policy.maximum_attempts} attempts",
        )
    retry_at = now + policy.retry_delay(attempt + 1)
    if retry_at >= deadline:
        return FailureDecision(AfterFailure.TIME_OUT, reason="the job timeout passed")
    return FailureDecision(AfterFailure.RETRY, retry_at=retry_at)
