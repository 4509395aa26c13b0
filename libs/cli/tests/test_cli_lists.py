"""Every list command pages through to the end, or stops at --limit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from fleetjobs.cli.testing import run_cli
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog
from fleetjobs.v1 import catalog_service_pb2_grpc as catalog_grpc

Serve = Callable[[Any, object], str]
TOTAL = 2500


class PagedCatalog(catalog_grpc.CatalogServiceServicer):
    """2,500 credentials, paged the way the API says: at most 1000, default 100."""

    def __init__(self) -> None:
        self.page_sizes: list[int] = []
        self._lock = threading.Lock()

    def ListCredentials(self, request: catalog.ListCredentialsRequest, context: Any) -> Any:
        with self._lock:
            self.page_sizes.append(request.page_size)
        size = min(request.page_size or 100, 1000)
        offset = int(request.page_token or 0)
        end = min(offset + size, TOTAL)
        return catalog.ListCredentialsResponse(
            credentials=[
                resources.Credential(name=f"cred-{i:04d}", username="u") for i in range(offset, end)
            ],
            next_page_token=str(end) if end < TOTAL else "",
        )


@pytest.fixture
def paged(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> PagedCatalog:
    servicer = PagedCatalog()  # type: ignore[abstract]  # see conftest
    monkeypatch.setenv(
        "FLEETJOBS_CATALOG_ADDR", serve(catalog_grpc.add_CatalogServiceServicer_to_server, servicer)
    )
    return servicer


def test_list_reads_every_page(paged: PagedCatalog) -> None:
    result = run_cli("credential", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "USERNAME", "ALLOWED", "SERVERS", "UPDATED"]
    assert [line.split()[0] for line in lines[1:]] == [f"cred-{i:04d}" for i in range(TOTAL)]
    assert paged.page_sizes == [1000, 1000, 1000]


def test_limit_asks_for_no_more_than_it_shows(paged: PagedCatalog) -> None:
    result = run_cli("--json", "credential", "list", "--limit", "1500")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert [c["name"] for c in document["credentials"]] == [f"cred-{i:04d}" for i in range(1500)]
    assert "nextPageToken" not in document
    assert paged.page_sizes == [1000, 500]


def test_limit_smaller_than_a_page(paged: PagedCatalog) -> None:
    result = run_cli("credential", "list", "--limit", "3")
    assert len(result.stdout.splitlines()) == 4
    assert paged.page_sizes == [3]
    assert run_cli("credential", "list", "--limit", "0").exit_code == 2
