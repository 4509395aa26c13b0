"""The catalog's rules: validation, policy defaults and inheritance, target identity, password
sealing. No gRPC, no SQL: functions of values that return field violations."""

from fleetjobs.catalog.domain._common import (
    Violation,
    mask_violations,
    name_violations,
    uuid_violations,
)
from fleetjobs.catalog.domain._contents import (
    comment_violations,
    content_violations,
    script_violations,
)
from fleetjobs.catalog.domain._credentials import (
    CREDENTIAL_MASK_PATHS,
    SealedPassword,
    allowed_servers_violations,
    credential_violations,
    password_choice_violations,
    seal,
    username_violations,
)
from fleetjobs.catalog.domain._jobs import (
    DESTINATION_ENGINES,
    JOB_MASK_PATHS,
    JobSpec,
    ResultDestinationSpec,
    credential_required,
    job_in_use_text,
    job_violations,
    merge_job,
)
from fleetjobs.catalog.domain._policies import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_NAME,
    POLICY_MASK_PATHS,
    EffectivePolicy,
    PolicyValues,
    effective,
    merge,
    policy_violations,
)
from fleetjobs.catalog.domain._targets import (
    ENGINES,
    KIND_COLLECTION,
    KIND_DATABASE,
    PLANNED_KINDS,
    DatabaseTargetSpec,
    collection_identity_key,
    collection_violations,
    database_target_violations,
)

__all__ = [
    "CREDENTIAL_MASK_PATHS",
    "DEFAULT_POLICY",
    "DEFAULT_POLICY_NAME",
    "DESTINATION_ENGINES",
    "ENGINES",
    "JOB_MASK_PATHS",
    "KIND_COLLECTION",
    "KIND_DATABASE",
    "PLANNED_KINDS",
    "POLICY_MASK_PATHS",
    "DatabaseTargetSpec",
    "EffectivePolicy",
    "JobSpec",
    "PolicyValues",
    "ResultDestinationSpec",
    "SealedPassword",
    "Violation",
    "allowed_servers_violations",
    "collection_identity_key",
    "collection_violations",
    "comment_violations",
    "content_violations",
    "credential_required",
    "credential_violations",
    "database_target_violations",
    "effective",
    "job_in_use_text",
    "job_violations",
    "mask_violations",
    "merge",
    "merge_job",
    "name_violations",
    "password_choice_violations",
    "policy_violations",
    "script_violations",
    "seal",
    "username_violations",
    "uuid_violations",
]
