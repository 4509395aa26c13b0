"""gRPC plumbing every service shares: server bootstrap (health, reflection, one log line per
RPC, rich errors), pagination tokens and request-id de-duplication helpers."""

from fleetjobs.core.grpc._convert import (
    duration_ms,
    from_timestamp,
    message_to_json,
    to_duration,
    to_timestamp,
)
from fleetjobs.core.grpc._durations import duration_problem, duration_violations
from fleetjobs.core.grpc._errors import (
    ApiError,
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    unavailable,
    unimplemented,
)
from fleetjobs.core.grpc._health import wait_serving
from fleetjobs.core.grpc._ids import MAX_IDS_PER_CALL, require_execution_ids
from fleetjobs.core.grpc._pagination import PageRequest, decode_page_token, encode_page_token
from fleetjobs.core.grpc._server import GrpcServer, PortInUseError, start_grpc_server

__all__ = [
    "MAX_IDS_PER_CALL",
    "ApiError",
    "GrpcServer",
    "PageRequest",
    "PortInUseError",
    "already_exists",
    "decode_page_token",
    "duration_ms",
    "duration_problem",
    "duration_violations",
    "encode_page_token",
    "failed_precondition",
    "from_timestamp",
    "invalid_argument",
    "message_to_json",
    "not_found",
    "require_execution_ids",
    "start_grpc_server",
    "to_duration",
    "to_timestamp",
    "unavailable",
    "unimplemented",
    "wait_serving",
]
