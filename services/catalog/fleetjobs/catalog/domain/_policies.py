"""Execution policies: the built-in `default` and how a policy inherits from it.

A stored policy keeps None for every field its author left unset; the effective value of such a
field is `default`'s, so changing the built-in default later changes every policy that did not
choose otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from fleetjobs.catalog.domain._common import Violation, name_violations
from fleetjobs.core.durations import MAX_DURATION_MS, MAX_DURATION_TEXT

DEFAULT_POLICY_NAME = "default"
WEEK_MS = 7 * 24 * 3600 * 1000
INT32_MAX = 2_147_483_647
# Past this, the second retry already waits the maximum interval: a larger factor says nothing
# more and only invites float overflow.
MAX_BACKOFF_COEFFICIENT = 1000.0
ERROR_CLASS_RE = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
POLICY_MASK_PATHS = frozenset(
    {
        "job_timeout",
        "initial_retry_interval",
        "maximum_retry_interval",
        "retry_interval_backoff_coefficient",
        "maximum_attempts",
        "non_retryable_error_classes",
    }
)


@dataclass(frozen=True, slots=True)
class PolicyValues:
    """A policy's own settings; None = inherit from `default`."""

    job_timeout_ms: int | None = None
    initial_retry_interval_ms: int | None = None
    maximum_retry_interval_ms: int | None = None
    retry_interval_backoff_coefficient: float | None = None
    maximum_attempts: int | None = None
    non_retryable_error_classes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    job_timeout_ms: int
    initial_retry_interval_ms: int
    maximum_retry_interval_ms: int
    retry_interval_backoff_coefficient: float
    maximum_attempts: int
    non_retryable_error_classes: tuple[str, ...]


DEFAULT_POLICY = EffectivePolicy(
    job_timeout_ms=WEEK_MS,
    initial_retry_interval_ms=100,
    maximum_retry_interval_ms=30 * 60 * 1000,
    retry_interval_backoff_coefficient=2.0,
    maximum_attempts=INT32_MAX,
    non_retryable_error_classes=(),
)


def effective(values: PolicyValues, base: EffectivePolicy = DEFAULT_POLICY) -> EffectivePolicy:
    def pick(own: int | None, inherited: int) -> int:
        return inherited if own is None else own

    return EffectivePolicy(
        job_timeout_ms=pick(values.job_timeout_ms, base.job_timeout_ms),
        initial_retry_interval_ms=pick(
            values.initial_retry_interval_ms, base.initial_retry_interval_ms
        ),
        maximum_retry_interval_ms=pick(
            values.maximum_retry_interval_ms, base.maximum_retry_interval_ms
        ),
        retry_interval_backoff_coefficient=(
            base.retry_interval_backoff_coefficient
            if values.retry_interval_backoff_coefficient is None
            else values.retry_interval_backoff_coefficient
        ),
        maximum_attempts=pick(values.maximum_attempts, base.maximum_attempts),
        non_retryable_error_classes=values.non_retryable_error_classes,
    )


def merge(current: PolicyValues, given: PolicyValues, paths: Sequence[str] | None) -> PolicyValues:
    """Apply an update: with a mask, exactly the masked fields are replaced (an unset one goes
    back to inheriting); without one, every field given (not None, a non-empty list)."""
    if paths is None:
        changes = {
            name: getattr(given, name)
            for name in PolicyValues.__dataclass_fields__
            if getattr(given, name) not in (None, ())
        }
    else:
        changes = {_FIELD_OF_PATH[path]: getattr(given, _FIELD_OF_PATH[path]) for path in paths}
    return replace(current, **changes)


_FIELD_OF_PATH = {
    "job_timeout": "job_timeout_ms",
    "initial_retry_interval": "initial_retry_interval_ms",
    "maximum_retry_interval": "maximum_retry_interval_ms",
    "retry_interval_backoff_coefficient": "retry_interval_backoff_coefficient",
    "maximum_attempts": "maximum_attempts",
    "non_retryable_error_classes": "non_retryable_error_classes",
}


def policy_violations(
    name: str, values: PolicyValues, prefix: str = "execution_policy"
) -> list[Violation]:
    problems = name_violations(name, f"{prefix}.name")
    for attribute, path in (
        ("job_timeout_ms", "job_timeout"),
        ("initial_retry_interval_ms", "initial_retry_interval"),
        ("maximum_retry_interval_ms", "maximum_retry_interval"),
    ):
        value = getattr(values, attribute)
        if value is not None and value <= 0:
            problems.append((f"{prefix}.{path}", "must be positive (at least 1 ms)"))
        elif value is not None and value > MAX_DURATION_MS:
            # Also what an update finds in a row stored before durations were bounded.
            problems.append((f"{prefix}.{path}", f"must be at most {MAX_DURATION_TEXT}"))
    coefficient = values.retry_interval_backoff_coefficient
    if coefficient is not None and not (
        math.isfinite(coefficient) and 1.0 <= coefficient <= MAX_BACKOFF_COEFFICIENT
    ):
        problems.append(
            (
                f"{prefix}.retry_interval_backoff_coefficient",
                f"must be a number from 1.0 to {MAX_BACKOFF_COEFFICIENT:g}",
            )
        )
    if values.maximum_attempts is not None and values.maximum_attempts < 1:
        problems.append((f"{prefix}.maximum_attempts", "must be at least 1"))
    for index, error_class in enumerate(values.non_retryable_error_classes):
        if ERROR_CLASS_RE.fullmatch(error_class) is None:
            problems.append(
                (
                    f"{prefix}.non_retryable_error_classes[{index}]",
                    "must be 1-64 letters, digits, '_', '.', ':' or '-'",
                )
            )
    if not problems:
        # Judged on effective values: a policy that only lowers the maximum below default's
        # initial interval is as contradictory as one that sets both.
        result = effective(values)
        if result.initial_retry_interval_ms > result.maximum_retry_interval_ms:
            problems.append(
                (
                    f"{prefix}.initial_retry_interval",
                    f"must not exceed maximum_retry_interval (effective values: "
                    f"{result.initial_retry_interval_ms} ms > "
                    f"{result.maximum_retry_interval_ms} ms)",
                )
            )
    return problems
