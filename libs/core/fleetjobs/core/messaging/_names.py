from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    """Every stream, subject, consumer and bucket carries the prefix, so suites can share a
    server without taking each other's work (FLEETJOBS_NATS_PREFIX)."""

    prefix: str

    # Subjects.
    @property
    def starts(self) -> str:
        return f"{self.prefix}.starts"

    @property
    def tasks(self) -> str:
        return f"{self.prefix}.tasks"

    @property
    def results(self) -> str:
        return f"{self.prefix}.results"

    @property
    def child_events(self) -> str:
        return f"{self.prefix}.events.child"

    @property
    def result_outcomes(self) -> str:
        return f"{self.prefix}.events.result"

    @property
    def stops(self) -> str:
        """Plain NATS (no stream): every executor hears every stop."""
        return f"{self.prefix}.control.stop"

    # Streams (work queues: a message is gone once one consumer acknowledged it).
    @property
    def starts_stream(self) -> str:
        return f"{self.prefix}_starts"

    @property
    def tasks_stream(self) -> str:
        return f"{self.prefix}_tasks"

    @property
    def results_stream(self) -> str:
        return f"{self.prefix}_results"

    @property
    def events_stream(self) -> str:
        return f"{self.prefix}_events"

    # Durable consumers shared by every replica of the consuming service.
    @property
    def executor_starts_consumer(self) -> str:
        return f"{self.prefix}_executor_starts"

    @property
    def executor_tasks_consumer(self) -> str:
        return f"{self.prefix}_executor_tasks"

    @property
    def executor_outcomes_consumer(self) -> str:
        return f"{self.prefix}_executor_outcomes"

    @property
    def results_consumer(self) -> str:
        return f"{self.prefix}_results_batches"

    @property
    def scheduler_events_consumer(self) -> str:
        return f"{self.prefix}_scheduler_events"

    # Key-value bucket of per-server connection slots (FLEETJOBS_MAX_PER_SERVER).
    @property
    def server_slots_bucket(self) -> str:
        return f"{self.prefix}_server_slots"
