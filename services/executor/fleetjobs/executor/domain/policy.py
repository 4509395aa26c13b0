"""Execution policies as an execution sees them: the effective values snapshotted at start,
the retry formula, and what happens after a failed attempt."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

# The seeds' defaults (API.md, built-in `default` policy).
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
    """Refusals by fleetjobs itself never retry; non-retryable classes fail fast; otherwise
    retry until maximum attempts, or until the next attempt would start past the deadline."""
    if refused:
        return FailureDecision(AfterFailure.FAIL, reason="refused by fleetjobs; not retried")
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
