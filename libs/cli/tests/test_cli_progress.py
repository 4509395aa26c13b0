"""Following an execution: the progress renderer fed real WatchJobExecutionResponse messages,
and `execution start --wait` / `execution watch` against a real streaming server."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from google.protobuf import timestamp_pb2

from fleetjobs.cli import ExitCode
from fleetjobs.cli._progress import ProgressRenderer, progress_line
from fleetjobs.cli.testing import run_cli
from fleetjobs.v1 import execution_resources_pb2 as resources
from fleetjobs.v1 import execution_service_pb2 as service
from fleetjobs.v1 import execution_service_pb2_grpc as service_grpc

Serve = Callable[[Any, object], str]
L = resources.Lifecycle
EXECUTION_ID = "0b8e6c2e-5f44-4f7e-9d0e-3f1c2a9b7d10"
START = 1_700_000_000


def _at(seconds: float) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=START + int(seconds), nanos=int(seconds % 1 * 1e9))


def parent(
    lifecycle: resources.Lifecycle.ValueType,
    counts: Mapping[str, int],
    *,
    end: float | None = None,
    message: str = "",
) -> resources.JobExecution:
    execution = resources.JobExecution(
        job_execution_id=EXECUTION_ID,
        job_name="nightly",
        lifecycle=lifecycle,
        counts=counts,
        message=message,
        create_time=_at(0),
        start_time=_at(0),
    )
    if end is not None:
        execution.end_time.CopyFrom(_at(end))
    return execution


def child(
    database: str, lifecycle: resources.Lifecycle.ValueType, message: str = ""
) -> resources.JobExecution:
    return resources.JobExecution(
        job_execution_id=f"child-{database}",
        parent_job_execution_id=EXECUTION_ID,
        engine="postgresql",
        server_name="pg1",
        database_name=database,
        lifecycle=lifecycle,
        message=message,
        attempts=1,
    )


def story(
    final: resources.Lifecycle.ValueType, final_message: str
) -> list[service.WatchJobExecutionResponse]:
    """Fifty databases: created, running, a failure along the way, then the end."""
    return [
        service.WatchJobExecutionResponse(job_execution=parent(L.LIFECYCLE_CREATED, {})),
        service.WatchJobExecutionResponse(
            job_execution=parent(
                L.LIFECYCLE_WAITING_FOR_CHILD_JOB_EXECUTIONS, {"LIFECYCLE_CREATED": 50}
            ),
            changed_children=[child(f"db{i}", L.LIFECYCLE_CREATED) for i in range(50)],
        ),
        service.WatchJobExecutionResponse(
            job_execution=parent(
                L.LIFECYCLE_WAITING_FOR_CHILD_JOB_EXECUTIONS,
                {
                    "LIFECYCLE_SUCCEEDED": 37,
                    "LIFECYCLE_FAILED": 2,
                    "LIFECYCLE_WAITING_FOR_RETRY": 1,
                    "LIFECYCLE_IN_PROGRESS": 10,
                },
            ),
            changed_children=[
                child("db7", L.LIFECYCLE_FAILED, 'relation "orders" does not exist'),
                child("db8", L.LIFECYCLE_SUCCEEDED),
            ],
        ),
        # A message that changes nothing the renderer shows (a child's attempt count).
        service.WatchJobExecutionResponse(
            job_execution=parent(
                L.LIFECYCLE_WAITING_FOR_CHILD_JOB_EXECUTIONS,
                {
                    "LIFECYCLE_SUCCEEDED": 37,
                    "LIFECYCLE_FAILED": 2,
                    "LIFECYCLE_WAITING_FOR_RETRY": 1,
                    "LIFECYCLE_IN_PROGRESS": 10,
                },
            ),
        ),
        service.WatchJobExecutionResponse(
            job_execution=parent(
                final,
                {"LIFECYCLE_SUCCEEDED": 48, "LIFECYCLE_FAILED": 2},
                end=12.5,
                message=final_message,
            ),
        ),
    ]


class Clock:
    def __init__(self) -> None:
        self.now = float(START)

    def __call__(self) -> float:
        return self.now


def test_progress_line() -> None:
    running = parent(
        L.LIFECYCLE_WAITING_FOR_CHILD_JOB_EXECUTIONS,
        {"LIFECYCLE_SUCCEEDED": 37, "LIFECYCLE_FAILED": 2, "LIFECYCLE_WAITING_FOR_RETRY": 1},
    )
    running.counts["LIFECYCLE_CREATED"] = 10
    # 39 of 50 finished: 15 of 20 cells.
    assert (
        progress_line(running, elapsed=4.2)
        == "[###############.....] 37/50 succeeded 2 failed 1 retrying  4.2s"
    )
    assert progress_line(parent(L.LIFECYCLE_CREATED, {}), elapsed=None) == (
        "[....................] created"
    )
    assert progress_line(running, elapsed=125, width=10).endswith("  2m05s")
    assert progress_line(running, elapsed=7322).endswith("  2h02m")


def test_not_a_terminal_prints_a_line_per_change() -> None:
    stream, clock = io.StringIO(), Clock()
    renderer = ProgressRenderer(stream, live=False, clock=clock)
    for step, message in enumerate(story(L.LIFECYCLE_FAILED, "2 of 50 databases failed")):
        clock.now = START + step
        renderer.update(message)
    renderer.close()
    assert stream.getvalue().splitlines() == [
        "CREATED [....................] created  0.0s",
        "WAITING_FOR_CHILD_JOB_EXECUTIONS [....................] 0/50 succeeded  1.0s",
        '  FAILED  pg1/db7 (postgresql): relation "orders" does not exist',
        "WAITING_FOR_CHILD_JOB_EXECUTIONS "
        "[###############.....] 37/50 succeeded 2 failed 1 retrying 10 running  2.0s",
        "FAILED [####################] 48/50 succeeded 2 failed  12.5s",
    ]
    last = renderer.last
    assert last is not None and last.lifecycle == L.LIFECYCLE_FAILED


def test_not_a_terminal_holds_back_counts_within_a_second() -> None:
    stream, clock = io.StringIO(), Clock()
    renderer = ProgressRenderer(stream, live=False, clock=clock)
    running = L.LIFECYCLE_WAITING_FOR_CHILD_JOB_EXECUTIONS
    for done in range(10):
        clock.now = START + done * 0.1
        counts = {"LIFECYCLE_SUCCEEDED": done, "LIFECYCLE_IN_PROGRESS": 10 - done}
        renderer.update(service.WatchJobExecutionResponse(job_execution=parent(running, counts)))
    assert len(stream.getvalue().splitlines()) == 1  # the first; the rest came too soon
    clock.now = START + 1.0
    renderer.tick()
    assert stream.getvalue().splitlines()[-1].endswith("9/10 succeeded 1 running  1.0s")
    # A new lifecycle is shown at once, however soon.
    renderer.update(
        service.WatchJobExecutionResponse(
            job_execution=parent(L.LIFECYCLE_SUCCEEDED, {"LIFECYCLE_SUCCEEDED": 10}, end=1.5)
        )
    )
    assert stream.getvalue().splitlines()[-1] == (
        "SUCCEEDED [####################] 10/10 succeeded  1.5s"
    )


def test_failed_children_beyond_the_cap_are_summed_up_once() -> None:
    stream = io.StringIO()
    renderer = ProgressRenderer(stream, live=False, clock=Clock(), max_reported=3)
    failures = [child(f"db{i}", L.LIFECYCLE_FAILED, "boom") for i in range(10)]
    running = parent(L.LIFECYCLE_WAITING_FOR_CHILD_JOB_EXECUTIONS, {"LIFECYCLE_FAILED": 10})
    renderer.update(
        service.WatchJobExecutionResponse(job_execution=running, changed_children=failures)
    )
    lines = stream.getvalue().splitlines()
    assert lines[:3] == [f"  FAILED  pg1/db{i} (postgresql): boom" for i in range(3)]
    assert lines[3] == (
        f"  (further failures are not shown: `fleetjobs execution show {EXECUTION_ID} "
        "--children` lists every database)"
    )
    assert len(lines) == 5  # and the progress line


def test_a_terminal_redraws_one_line_and_prints_failures_above_it() -> None:
    stream, clock = io.StringIO(), Clock()
    renderer = ProgressRenderer(stream, live=True, clock=clock)
    messages = story(L.LIFECYCLE_SUCCEEDED, "")
    for message in messages[:3]:
        renderer.update(message)
    clock.now = START + 3.5
    renderer.tick()
    renderer.update(messages[-1])
    renderer.close()
    text = stream.getvalue()
    assert text.endswith("\r\x1b[K[####################] 48/50 succeeded 2 failed  12.5s\n")
    # The failure interrupts the bar on a line of its own, and the bar comes back under it.
    assert '\r\x1b[K  FAILED  pg1/db7 (postgresql): relation "orders" does not exist\n' in text
    # tick() moved the clock while nothing changed.
    assert "37/50 succeeded 2 failed 1 retrying 10 running  3.5s" in text
    assert text.count("\n") == 2


class Scheduler(service_grpc.ExecutionServiceServicer):
    """Starts one execution and streams a prepared story of it."""

    def __init__(self, messages: list[service.WatchJobExecutionResponse]) -> None:
        self.messages = messages
        self.started: list[service.StartJobExecutionRequest] = []
        self.final = messages[-1].job_execution

    def StartJobExecution(self, request: service.StartJobExecutionRequest, context: Any) -> Any:
        self.started.append(request)
        return service.StartJobExecutionResponse(job_execution=parent(L.LIFECYCLE_CREATED, {}))

    def WatchJobExecution(
        self, request: service.WatchJobExecutionRequest, context: Any
    ) -> Iterator[service.WatchJobExecutionResponse]:
        assert request.job_execution_id == EXECUTION_ID
        yield from self.messages

    def GetJobExecution(self, request: service.GetJobExecutionRequest, context: Any) -> Any:
        return service.GetJobExecutionResponse(job_execution=self.final)


@pytest.fixture
def scheduler_for(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[service.WatchJobExecutionResponse]], Scheduler]:
    def start(messages: list[service.WatchJobExecutionResponse]) -> Scheduler:
        servicer = Scheduler(messages)  # type: ignore[abstract]  # see conftest
        address = serve(service_grpc.add_ExecutionServiceServicer_to_server, servicer)
        monkeypatch.setenv("FLEETJOBS_SCHEDULER_ADDR", address)
        return servicer

    return start


SchedulerFor = Callable[[list[service.WatchJobExecutionResponse]], Scheduler]


def test_start_wait_exits_zero_on_success(scheduler_for: SchedulerFor) -> None:
    scheduler = scheduler_for(story(L.LIFECYCLE_SUCCEEDED_WITH_SKIPPED, "48 succeeded"))
    result = run_cli("execution", "start", "nightly", "--wait", "--request-id", "r-1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [EXECUTION_ID, "SUCCEEDED_WITH_SKIPPED: 48 succeeded"]
    assert "SUCCEEDED_WITH_SKIPPED [####################] 48/50 succeeded 2 failed" in result.stderr
    assert [(r.job_name, r.request_id) for r in scheduler.started] == [("nightly", "r-1")]


def test_start_without_wait_prints_only_the_id(scheduler_for: SchedulerFor) -> None:
    scheduler_for(story(L.LIFECYCLE_SUCCEEDED, ""))
    result = run_cli("execution", "start", "nightly")
    assert (result.exit_code, result.stdout, result.stderr) == (0, EXECUTION_ID + "\n", "")


def test_watch_exits_eight_unless_succeeded(scheduler_for: SchedulerFor) -> None:
    scheduler_for(story(L.LIFECYCLE_FAILED, "2 of 50 databases failed"))
    result = run_cli("execution", "watch", EXECUTION_ID)
    assert result.exit_code == ExitCode.NOT_SUCCEEDED
    assert result.stdout == "FAILED: 2 of 50 databases failed\n"
    assert 'pg1/db7 (postgresql): relation "orders" does not exist' in result.stderr


def test_watch_on_a_terminal_draws_a_bar(scheduler_for: SchedulerFor) -> None:
    scheduler_for(story(L.LIFECYCLE_SUCCEEDED, ""))
    result = run_cli("execution", "watch", EXECUTION_ID, tty=True)
    assert result.exit_code == 0
    assert "\r\x1b[K[####################] 48/50 succeeded 2 failed  12.5s\n" in result.stderr


def test_start_wait_json_prints_one_document(scheduler_for: SchedulerFor) -> None:
    scheduler_for(story(L.LIFECYCLE_CANCELED, "stopped by a user"))
    result = run_cli("--json", "execution", "start", "nightly", "--wait")
    assert result.exit_code == ExitCode.NOT_SUCCEEDED
    document = json.loads(result.stdout)
    assert document["jobExecution"]["lifecycle"] == "LIFECYCLE_CANCELED"
    assert document["jobExecution"]["counts"] == {"LIFECYCLE_SUCCEEDED": 48, "LIFECYCLE_FAILED": 2}


def test_a_stream_that_ends_early_is_settled_by_asking(scheduler_for: SchedulerFor) -> None:
    messages = story(L.LIFECYCLE_SUCCEEDED, "all done")
    scheduler = scheduler_for(messages[:3])
    scheduler.final = messages[-1].job_execution
    result = run_cli("execution", "watch", EXECUTION_ID)
    assert result.exit_code == 0
    assert result.stdout == "SUCCEEDED: all done\n"

    scheduler.final = messages[2].job_execution
    unfinished = run_cli("execution", "watch", EXECUTION_ID)
    assert unfinished.exit_code == ExitCode.ERROR
    assert "the watch ended while execution" in unfinished.stderr
