"""Target rules: which engines exist, how a database is addressed, when two targets are one."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

from fleetjobs.catalog.domain._common import Violation, name_violations, text_violations
from fleetjobs.core.crypto import server_name_problem
from fleetjobs.core.targets import OPTION_KEY_RE, option_problems

ENGINES = ("postgresql", "mysql", "sqlite", "mssql", "odbc")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
SERVER_NAME_MAX = 255
DATABASE_NAME_MAX = 1024

KIND_DATABASE = "database"
KIND_COLLECTION = "custom_collection"

PLANNED_KINDS = {
    "shard_map": "shard map targets are planned and not implemented yet",
    "server": "server targets are planned and not implemented yet",
}


@dataclass(frozen=True, slots=True)
class DatabaseTargetSpec:
    engine: str
    server_name: str
    port: int
    database_name: str
    options: Mapping[str, str] = field(default_factory=dict)

    def normalised(self) -> DatabaseTargetSpec:
        """What is stored: for sqlite the server and port mean nothing, so they are cleared."""
        if self.engine == "sqlite":
            return DatabaseTargetSpec(
                engine=self.engine,
                server_name="",
                port=0,
                database_name=self.database_name,
                options=dict(self.options),
            )
        return self

    def identity_key(self) -> str:
        """Equal for two targets that address the same database the same way: same engine,
        server name ignoring case, port with 0 meaning the engine default, database, options.
        Hashed because database names and options are unbounded and the column is not."""
        spec = self.normalised()
        port = spec.port or DEFAULT_PORTS.get(spec.engine, 0)
        canonical = json.dumps(
            [
                spec.engine,
                spec.server_name.lower(),
                port,
                spec.database_name,
                sorted(spec.options.items()),
            ],
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return "database:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def collection_identity_key(name: str) -> str:
    return "custom_collection:" + name


def engine_violations(
    engine: str, field: str, allowed: tuple[str, ...] = ENGINES
) -> list[Violation]:
    if not engine:
        return [(field, f"is required: one of {', '.join(allowed)}")]
    if engine not in allowed:
        return [(field, f"must be one of {', '.join(allowed)}")]
    return []


def port_violations(port: int, field: str) -> list[Violation]:
    if not 0 <= port <= 65535:
        return [(field, "must be between 0 and 65535 (0 = the engine's default)")]
    return []


def sqlite_path_violations(path: str, field: str) -> list[Violation]:
    """A SQLite database is a path relative to FLEETJOBS_SQLITE_ROOT. Refused here early; the
    executor re-checks the resolved path at run time (symlinks can only be judged there)."""
    if "\x00" in path:
        return [(field, "must not contain NUL characters")]
    if (
        PurePosixPath(path).is_absolute()
        or PureWindowsPath(path).is_absolute()
        or PureWindowsPath(path).drive
        or path.startswith(("/", "\\"))
    ):
        return [(field, "must be a path relative to FLEETJOBS_SQLITE_ROOT, not an absolute path")]
    if ".." in re.split(r"[/\\]", path):
        return [(field, "must not contain '..' segments: it must stay under FLEETJOBS_SQLITE_ROOT")]
    return []


def options_violations(engine: str, options: Mapping[str, str], field: str) -> list[Violation]:
    """The allow-list of connection options (docs/adr/0006), as field violations: one per
    option at `field[key]`, or at `field` for the options as a whole (too many, no driver)
    and for a key that is no option name (it would not read well inside a field path)."""
    return [
        (
            f"{field}[{problem.key}]"
            if problem.key is not None and OPTION_KEY_RE.fullmatch(problem.key)
            else field,
            problem.message,
        )
        for problem in option_problems(engine, options)
    ]


def server_name_violations(server_name: str, field: str) -> list[Violation]:
    """One host name or IP literal, as the allow-list reads it: a name that means more to a
    driver (``a,b`` is two hosts to libpq) could take the password past the allow-list."""
    problems = text_violations(server_name, field, max_length=SERVER_NAME_MAX, required=True)
    if problems:
        return problems
    why = server_name_problem(server_name)
    return [] if why is None else [(field, why)]


def database_target_violations(spec: DatabaseTargetSpec, prefix: str) -> list[Violation]:
    problems = engine_violations(spec.engine, f"{prefix}.engine")
    if spec.engine != "sqlite":
        problems += server_name_violations(spec.server_name, f"{prefix}.server_name")
    problems += port_violations(spec.port, f"{prefix}.port")
    problems += database_name_violations(spec.engine, spec.database_name, f"{prefix}.database_name")
    problems += options_violations(spec.engine, spec.options, f"{prefix}.options")
    return problems


def database_name_violations(engine: str, database_name: str, field: str) -> list[Violation]:
    if not database_name:
        return [(field, "is required")]
    if len(database_name) > DATABASE_NAME_MAX:
        return [(field, f"must be at most {DATABASE_NAME_MAX} characters")]
    if engine == "sqlite":
        return sqlite_path_violations(database_name, field)
    return text_violations(database_name, field, max_length=DATABASE_NAME_MAX, required=True)


def collection_violations(name: str, prefix: str) -> list[Violation]:
    return name_violations(name, f"{prefix}.name")
