"""Errors servicers raise; the server's interceptor turns them into canonical statuses with
google.rpc details (BadRequest field violations, ErrorInfo)."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

DOMAIN = "fleetjobs.io"


class ApiError(Exception):
    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        violations: Sequence[tuple[str, str]] = (),
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.violations = list(violations)
        self.reason = reason

    def to_status(self) -> status_pb2.Status:
        details: list[any_pb2.Any] = []
        if self.violations:
            bad_request = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in self.violations
                ]
            )
            packed = any_pb2.Any()
            packed.Pack(bad_request)
            details.append(packed)
        if self.reason:
            packed = any_pb2.Any()
            packed.Pack(error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN))
            details.append(packed)
        return status_pb2.Status(
            code=getattr(code_pb2, self.code.name), message=self.message, details=details
        )


def invalid_argument(violations: Sequence[tuple[str, str]], message: str = "") -> ApiError:
    """INVALID_ARGUMENT listing every bad field; the message repeats them for plain clients."""
    text = message or "; ".join(f"{field}: {why}" for field, why in violations)
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, text, violations=violations)


def not_found(what: str, name: str) -> ApiError:
    return ApiError(grpc.StatusCode.NOT_FOUND, f"{what} {name!r} not found", reason="NOT_FOUND")


def already_exists(what: str, name: str) -> ApiError:
    return ApiError(
        grpc.StatusCode.ALREADY_EXISTS, f"{what} {name!r} already exists", reason="ALREADY_EXISTS"
    )


def failed_precondition(message: str, reason: str = "FAILED_PRECONDITION") -> ApiError:
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, message, reason=reason)


def unavailable(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.UNAVAILABLE, message, reason="UNAVAILABLE")


def unimplemented(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.UNIMPLEMENTED, message, reason="UNIMPLEMENTED")
