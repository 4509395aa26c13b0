"""Table models of the control database, one module per writer."""

from fleetjobs.core.db.models._catalog import (
    ContentVersionRow,
    CredentialRow,
    ExecutionPolicyRow,
    JobRow,
    RequestIdRow,
    TargetMembershipRow,
    TargetRow,
)
from fleetjobs.core.db.models._executor import (
    AttemptRow,
    ChildExecutionRow,
    ExecutionSnapshotRow,
    JobExpansionLockRow,
    WorkerRow,
)
from fleetjobs.core.db.models._results import ResultSetRow
from fleetjobs.core.db.models._scheduler import ParentExecutionRow

__all__ = [
    "AttemptRow",
    "ChildExecutionRow",
    "ContentVersionRow",
    "CredentialRow",
    "ExecutionPolicyRow",
    "ExecutionSnapshotRow",
    "JobExpansionLockRow",
    "JobRow",
    "ParentExecutionRow",
    "RequestIdRow",
    "ResultSetRow",
    "TargetMembershipRow",
    "TargetRow",
    "WorkerRow",
]
