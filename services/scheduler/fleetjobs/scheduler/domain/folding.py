"""How a parent's lifecycle follows from its children's (design.md, "Lifecycles")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fleetjobs.core.lifecycle import Lifecycle


@dataclass(frozen=True)
class ParentOutcome:
    lifecycle: Lifecycle
    message: str


def fold_children(counts: Mapping[str, int]) -> ParentOutcome | None:
    """The parent's terminal outcome once every child is terminal; None while any runs.

    A parent ends SUCCEEDED only when every child did; SUCCEEDED_WITH_SKIPPED when the rest
    were skipped; otherwise the gravest child outcome wins: a timeout or a stop explains the
    failures it caused, so TIMED_OUT and CANCELED rank above FAILED.
    """
    total = sum(counts.values())
    if any(count and not Lifecycle(name).terminal for name, count in counts.items()):
        return None
    if total == 0:
        return ParentOutcome(Lifecycle.SUCCEEDED, "the target has no databases")
    succeeded = counts.get(Lifecycle.SUCCEEDED, 0)
    skipped = counts.get(Lifecycle.SKIPPED, 0)
    failed = counts.get(Lifecycle.FAILED, 0)
    summary = f"{succeeded} of {total} databases succeeded"
    if skipped:
        summary += f", {skipped} skipped"
    if failed:
        summary += f", {failed} failed"
    for grave in (Lifecycle.TIMED_OUT, Lifecycle.CANCELED):
        if counts.get(grave, 0):
            return ParentOutcome(grave, f"{summary}, {counts[grave]} {grave.value.lower()}")
    if failed:
        return ParentOutcome(Lifecycle.FAILED, summary)
    if skipped:
        return ParentOutcome(Lifecycle.SUCCEEDED_WITH_SKIPPED, summary)
    return ParentOutcome(Lifecycle.SUCCEEDED, summary)
