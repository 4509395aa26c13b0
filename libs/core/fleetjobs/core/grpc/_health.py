"""Waiting for a service to report SERVING on the standard health service."""

from __future__ import annotations

import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def wait_serving(
    address: str, *, timeout: float = 30.0, still_starting: Callable[[], bool] | None = None
) -> None:
    """Returns once `address` reports SERVING; raises TimeoutError after `timeout`, or
    RuntimeError as soon as `still_starting()` says the process is gone."""
    end = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < end:
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            if still_starting is not None and not still_starting():
                raise RuntimeError(f"the process serving {address} exited")
            time.sleep(0.05)
    raise TimeoutError(f"{address} did not report SERVING within {timeout:.0f} s")
