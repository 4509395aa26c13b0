"""How a parent's lifecycle follows from its children's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleetjobs.core.lifecycle import Lifecycle


@dataclass(frozen=True)
class ParentOutcome:
    lifecycle: Lifecycle
    message: str


# The endings a parent's message counts besides successes, each as the message words it.
_ENDINGS = (
    (Lifecycle.SKIPPED, "skipped"),
    (Lifecycle.FAILED, "failed"),
    (Lifecycle.TIMED_OUT, "timed out"),
    (Lifecycle.CANCELED, "canceled"),
)


def fold_children(counts: Mapping[str, int]) -> ParentOutcome | None:
    """The parent's terminal outcome once every child is terminal; None while any runs.

    A parent ends SUCCEEDED only when every child did; SUCCEEDED_WITH_SKIPPED when the rest
    were skipped; otherwise the gravest child outcome wins: a timeout or a stop explains the
    failures it caused, so TIMED_OUT and CANCELED rank above FAILED. The message counts the
    children of every ending ("3 of 5 databases succeeded, 1 failed, 1 timed out").
    """
    total = sum(counts.values())
    if any(count and not Lifecycle(name).terminal for name, count in counts.items()):
        return None
    if total == 0:
        return ParentOutcome(Lifecycle.SUCCEEDED, "the target has no databases")
    succeeded = counts.get(Lifecycle.SUCCEEDED, 0)
    parts = [f"{succeeded} of {total} databases succeeded"]
    for ending, words in _ENDINGS:
        if counts.get(ending, 0):
            parts.append(f"{counts[ending]} {words}")
    summary = ", ".join(parts)
    for grave in (Lifecycle.TIMED_OUT, Lifecycle.CANCELED, Lifecycle.FAILED):
        if counts.get(grave, 0):
            return ParentOutcome(grave, summary)
    if counts.get(Lifecycle.SKIPPED, 0):
        return ParentOutcome(Lifecycle.SUCCEEDED_WITH_SKIPPED, summary)
    return ParentOutcome(Lifecycle.SUCCEEDED, summary)
