"""Lifecycle names as stored in the control database, and what they mean. The proto enum is
`Lifecycle` with the `LIFECYCLE_` prefix; the database stores the bare name."""

from __future__ import annotations

from enum import StrEnum

from fleetjobs.v1 import execution_resources_pb2


class Lifecycle(StrEnum):
    CREATED = "CREATED"
    IN_PROGRESS = "IN_PROGRESS"
    WAITING_FOR_RETRY = "WAITING_FOR_RETRY"
    WAITING_FOR_CHILD_JOB_EXECUTIONS = "WAITING_FOR_CHILD_JOB_EXECUTIONS"
    SUCCEEDED = "SUCCEEDED"
    SUCCEEDED_WITH_SKIPPED = "SUCCEEDED_WITH_SKIPPED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL

    def to_proto(self) -> execution_resources_pb2.Lifecycle.ValueType:
        return execution_resources_pb2.Lifecycle.Value(f"LIFECYCLE_{self.value}")

    @classmethod
    def from_proto(cls, value: int) -> Lifecycle:
        name = execution_resources_pb2.Lifecycle.Name(
            execution_resources_pb2.Lifecycle.ValueType(value)
        )
        return cls(name.removeprefix("LIFECYCLE_"))


TERMINAL = frozenset(
    {
        Lifecycle.SUCCEEDED,
        Lifecycle.SUCCEEDED_WITH_SKIPPED,
        Lifecycle.FAILED,
        Lifecycle.TIMED_OUT,
        Lifecycle.CANCELED,
        Lifecycle.SKIPPED,
    }
)
