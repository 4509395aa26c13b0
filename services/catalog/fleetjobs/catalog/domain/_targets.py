"""Target rules: which engines exist, how a database is addressed, when two targets are one."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath

from fleetjobs.catalog.domain._common import Violation, name_violations, text_violations

ENGINES = ("postgresql", "mysql", "sqlite", "mssql", "odbc")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433}
SERVER_NAME_MAX = 255
DATABASE_NAME_MAX = 1024
OPTION_KEY_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
OPTION_VALUE_MAX = 1024
# Options carry connection settings, never a password (API.md): a key that names one, or a
# value that smuggles one into an ODBC connection string, is refused.
_SECRET_KEY_RE = re.compile(r"password|passwd|pwd", re.IGNORECASE)
_SECRET_VALUE_RE = re.compile(r"(?:^|;)\s*(?:password|passwd|pwd)\s*=", re.IGNORECASE)

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
    problems: list[Violation] = []
    for key in sorted(options):
        value = options[key]
        if OPTION_KEY_RE.fullmatch(key) is None:
            problems.append(
                (
                    field,
                    "option keys must be 1-64 letters, digits, '_', '.' or '-', starting "
                    "with a letter",
                )
            )
            continue
        key_field = f"{field}[{key}]"
        if _SECRET_KEY_RE.search(key) or _SECRET_VALUE_RE.search(value):
            problems.append((key_field, "options never carry a password: put it in a credential"))
        elif len(value) > OPTION_VALUE_MAX or "\x00" in value:
            problems.append((key_field, f"must be at most {OPTION_VALUE_MAX} characters, no NUL"))
    if engine == "odbc" and not (options.get("driver") or options.get("dsn")):
        problems.append((field, "an odbc target needs options['driver'] or options['dsn']"))
    return problems


def database_target_violations(spec: DatabaseTargetSpec, prefix: str) -> list[Violation]:
    problems = engine_violations(spec.engine, f"{prefix}.engine")
    if spec.engine != "sqlite":
        problems += text_violations(
            spec.server_name,
            f"{prefix}.server_name",
            max_length=SERVER_NAME_MAX,
            required=True,
        )
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
