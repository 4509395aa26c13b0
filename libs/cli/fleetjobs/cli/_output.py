"""What commands print: tables and fields for people, the API response as JSON with --json."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from typing import TextIO

from google.protobuf import json_format, timestamp_pb2
from google.protobuf.message import Message

from fleetjobs.v1 import catalog_resources_pb2 as catalog_resources
from fleetjobs.v1 import execution_resources_pb2 as execution_resources

# A table cell longer than this is cut; --json and the `show` commands give the whole text.
CELL_LIMIT = 80


class Output:
    def __init__(self, *, json_mode: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.json = json_mode
        self.stdout = stdout
        self.stderr = stderr

    def emit_json(self, message: Message) -> None:
        # The proto3 JSON mapping as grpcurl prints it: fields at their zero value are left out
        # (an input-only `password` never shows up, even empty).
        print(json_format.MessageToJson(message, ensure_ascii=False), file=self.stdout)

    def line(self, text: str = "") -> None:
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """A remark for the person at the terminal, kept off stdout so scripts never parse it."""
        print(text, file=self.stderr, flush=True)

    def fields(self, pairs: Sequence[tuple[str, str]]) -> None:
        """`name:   value` lines, the values aligned; a field without a value is left out."""
        shown = [(name, value) for name, value in pairs if value]
        width = max((len(name) for name, _ in shown), default=0) + 1
        for name, value in shown:
            self.line(f"{name + ':':<{width}} {value}")

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str) -> None:
        """Aligned columns under upper-case headers; `empty` goes to stderr when no rows."""
        cells = [[_cell(value) for value in row] for row in rows]
        if not cells:
            self.note(empty)
            return
        titles = [header.upper() for header in headers]
        widths = [max(len(row[i]) for row in [titles, *cells]) for i in range(len(titles))]
        for row in [titles, *cells]:
            self.line(
                "  ".join(
                    value.ljust(width) for value, width in zip(row, widths, strict=True)
                ).rstrip()
            )


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def clip(text: str, limit: int = CELL_LIMIT) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def timestamp(value: timestamp_pb2.Timestamp) -> str:
    """UTC, to the second; empty when unset."""
    if value.seconds == 0 and value.nanos == 0:
        return ""
    moment = value.ToDatetime(tzinfo=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def lifecycle(value: execution_resources.Lifecycle.ValueType) -> str:
    """`SUCCEEDED` for LIFECYCLE_SUCCEEDED; the number when this CLI does not know it."""
    try:
        name = execution_resources.Lifecycle.Name(value)
    except ValueError:
        return str(value)
    return name.removeprefix("LIFECYCLE_")


def destination(dest: catalog_resources.ResultDestination) -> str:
    """`postgresql host:5432/db schema.table`, `sqlite results.db table`."""
    table = ".".join(part for part in (dest.schema_name, dest.table_name) if part)
    if dest.engine == "sqlite":
        return f"sqlite {dest.database_name} {table}"
    host = f"{dest.server_name}:{dest.port}" if dest.port else dest.server_name
    return f"{dest.engine} {host}/{dest.database_name} {table}"


def _cell(value: str) -> str:
    return " ".join(value.split()) if any(c in value for c in "\n\r\t") else value
