"""Every duration of an execution policy is bounded (positive, at most 366 days, nanos in
range) and refused with a field violation naming it; a policy row stored before the bound
still reads, and an update must bring it within the bound."""

from __future__ import annotations

from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import create_engine, update

from fleetjobs.core.db.models import ExecutionPolicyRow
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as pb

FIELDS = ("job_timeout", "initial_retry_interval", "maximum_retry_interval")
YEAR_AND_A_DAY_S = 366 * 24 * 3600
TOO_LONG = (
    Duration(seconds=10**12),
    Duration(seconds=10**15),
    Duration(seconds=YEAR_AND_A_DAY_S, nanos=1_000_000),
)
MALFORMED = (
    Duration(seconds=-5),
    Duration(seconds=1, nanos=-1),
    Duration(seconds=1, nanos=1_000_000_000),
    Duration(seconds=-(10**15)),
)


def _create(catalog: Any, **fields: Any) -> pb.CreateExecutionPolicyRequest:
    return pb.CreateExecutionPolicyRequest(
        execution_policy=r.ExecutionPolicy(name=catalog.unique("bounds"), **fields)
    )


def test_create_refuses_every_duration_out_of_bounds(catalog: Any) -> None:
    for field in FIELDS:
        for value in TOO_LONG:
            problems = catalog.invalid(
                catalog.stub.CreateExecutionPolicy, _create(catalog, **{field: value})
            )
            assert set(problems) == {f"execution_policy.{field}"}, (field, value)
            assert "366 days" in problems[f"execution_policy.{field}"]
        for value in MALFORMED:
            problems = catalog.invalid(
                catalog.stub.CreateExecutionPolicy, _create(catalog, **{field: value})
            )
            assert set(problems) == {f"execution_policy.{field}"}, (field, value)


def test_the_bound_itself_is_accepted(catalog: Any) -> None:
    request = _create(
        catalog,
        job_timeout=Duration(seconds=YEAR_AND_A_DAY_S),
        maximum_retry_interval=Duration(seconds=YEAR_AND_A_DAY_S),
    )
    created = catalog.stub.CreateExecutionPolicy(request).execution_policy
    assert created.job_timeout.seconds == YEAR_AND_A_DAY_S


def test_backoff_coefficient_must_be_finite_and_sane(catalog: Any) -> None:
    for value in (float("inf"), float("nan"), 0.5, 1e300):
        problems = catalog.invalid(
            catalog.stub.CreateExecutionPolicy,
            _create(catalog, retry_interval_backoff_coefficient=value),
        )
        assert set(problems) == {"execution_policy.retry_interval_backoff_coefficient"}


def test_update_refuses_every_duration_out_of_bounds(catalog: Any) -> None:
    name = catalog.stub.CreateExecutionPolicy(_create(catalog)).execution_policy.name
    for field in FIELDS:
        for value in (*TOO_LONG, *MALFORMED):
            for mask in (None, FieldMask(paths=[field])):
                given: dict[str, Any] = {field: value}
                request = pb.UpdateExecutionPolicyRequest(
                    execution_policy=r.ExecutionPolicy(name=name, **given),
                    update_mask=mask,
                )
                problems = catalog.invalid(catalog.stub.UpdateExecutionPolicy, request)
                assert set(problems) == {f"execution_policy.{field}"}, (field, value, mask)


def test_a_row_stored_before_the_bound_reads_and_must_be_mended(catalog: Any) -> None:
    name = catalog.stub.CreateExecutionPolicy(_create(catalog)).execution_policy.name
    engine = create_engine(catalog.control_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(ExecutionPolicyRow)
                .where(ExecutionPolicyRow.name == name)
                .values(job_timeout_ms=10**18)
            )
    finally:
        engine.dispose()

    shown = catalog.stub.GetExecutionPolicy(pb.GetExecutionPolicyRequest(name=name))
    assert shown.execution_policy.job_timeout.seconds == 10**15
    listed = catalog.stub.ListExecutionPolicies(pb.ListExecutionPoliciesRequest(page_size=1000))
    assert name in [p.name for p in listed.execution_policies]

    # Changing something else keeps the stored value: the update says which field to mend.
    other = pb.UpdateExecutionPolicyRequest(
        execution_policy=r.ExecutionPolicy(name=name, maximum_attempts=3)
    )
    problems = catalog.invalid(catalog.stub.UpdateExecutionPolicy, other)
    assert set(problems) == {"execution_policy.job_timeout"}
    mended = catalog.stub.UpdateExecutionPolicy(
        pb.UpdateExecutionPolicyRequest(
            execution_policy=r.ExecutionPolicy(name=name, job_timeout=Duration(seconds=3600))
        )
    ).execution_policy
    assert mended.job_timeout.seconds == 3600
