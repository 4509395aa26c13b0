"""Job rules: what a job must name and where its results may go."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from fleetjobs.catalog.domain._common import (
    Violation,
    name_violations,
    uuid_violations,
)
from fleetjobs.catalog.domain._targets import (
    database_name_violations,
    engine_violations,
    port_violations,
    server_name_violations,
)

DESTINATION_ENGINES = ("postgresql", "mysql", "sqlite")
# Conservative on purpose: a name that passes is a plain identifier in every destination engine
# (PostgreSQL truncates at 63 bytes), so quoting it can never change its meaning. ASCII only, so
# 63 characters are 63 bytes, and no control or invisible character can pass. [A-Za-z] is
# ASCII-only in a str pattern; fullmatch allows no trailing newline, unlike `$`.
IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
JOB_MASK_PATHS = frozenset(
    {
        "content_name",
        "credential_name",
        "target_id",
        "execution_policy_name",
        "result_destination",
        "allow_concurrent_executions",
    }
)


@dataclass(frozen=True, slots=True)
class ResultDestinationSpec:
    engine: str
    server_name: str
    port: int
    database_name: str
    schema_name: str
    table_name: str
    credential_name: str

    def normalised(self) -> ResultDestinationSpec:
        if self.engine == "sqlite":
            return replace(self, server_name="", port=0)
        return self


@dataclass(frozen=True, slots=True)
class JobSpec:
    name: str
    content_name: str
    credential_name: str
    target_id: str
    execution_policy_name: str
    result_destination: ResultDestinationSpec | None
    allow_concurrent_executions: bool


def identifier_violations(value: str, field: str, *, required: bool) -> list[Violation]:
    if not value:
        return [(field, "is required")] if required else []
    if IDENTIFIER_RE.fullmatch(value) is None:
        return [
            (
                field,
                "must be 1-63 characters of letters, digits and '_', not starting with a digit",
            )
        ]
    if value.lower().startswith("sqlite_"):
        # The results service refuses these on every engine: SQLite reserves the prefix.
        return [(field, "must not start with 'sqlite_', which SQLite reserves")]
    return []


def destination_violations(spec: ResultDestinationSpec, prefix: str) -> list[Violation]:
    problems = engine_violations(spec.engine, f"{prefix}.engine", DESTINATION_ENGINES)
    if spec.engine != "sqlite":
        problems += server_name_violations(spec.server_name, f"{prefix}.server_name")
        if not spec.credential_name:
            problems.append(
                (f"{prefix}.credential_name", "is required unless the engine is sqlite")
            )
    problems += name_violations(spec.credential_name, f"{prefix}.credential_name", required=False)
    problems += port_violations(spec.port, f"{prefix}.port")
    problems += database_name_violations(spec.engine, spec.database_name, f"{prefix}.database_name")
    problems += identifier_violations(spec.schema_name, f"{prefix}.schema_name", required=False)
    problems += identifier_violations(spec.table_name, f"{prefix}.table_name", required=True)
    return problems


def job_violations(spec: JobSpec, prefix: str = "job") -> list[Violation]:
    """Shape only; whether the named things exist is the caller's next question."""
    problems = [
        *name_violations(spec.name, f"{prefix}.name"),
        *name_violations(spec.content_name, f"{prefix}.content_name"),
        *name_violations(spec.credential_name, f"{prefix}.credential_name", required=False),
        *uuid_violations(spec.target_id, f"{prefix}.target_id"),
        *name_violations(
            spec.execution_policy_name, f"{prefix}.execution_policy_name", required=False
        ),
    ]
    if spec.result_destination is not None:
        problems += destination_violations(spec.result_destination, f"{prefix}.result_destination")
    return problems


def credential_required(target_engines: Collection[str]) -> bool:
    """A job needs a credential unless every database its target holds now is SQLite (an empty
    collection needs none yet). Members change later; the executor checks again per database."""
    return any(engine != "sqlite" for engine in target_engines)


def merge_job(current: JobSpec, given: JobSpec, paths: Sequence[str] | None) -> JobSpec:
    """With a mask, the masked fields are replaced (empty clears); without one, every field
    given: a non-empty string, a set result_destination, allow_concurrent_executions=true.
    Clearing a field or setting the flag back to false therefore needs a mask."""
    if paths is None:
        return replace(
            current,
            content_name=given.content_name or current.content_name,
            credential_name=given.credential_name or current.credential_name,
            target_id=given.target_id or current.target_id,
            execution_policy_name=given.execution_policy_name or current.execution_policy_name,
            result_destination=given.result_destination or current.result_destination,
            allow_concurrent_executions=(
                given.allow_concurrent_executions or current.allow_concurrent_executions
            ),
        )
    return replace(current, **{path: getattr(given, path) for path in paths})


def job_in_use_text(name: str, deleted: bool) -> str:
    """The job named in a FAILED_PRECONDITION about something it uses. A deleted job still
    holds on to what it names until its executions end; the message says so, or the user
    who just deleted it would be puzzled."""
    if not deleted:
        return repr(name)
    return f"{name!r} (deleted; it is removed once its executions end)"
