"""Content rules: a named script whose every definition is a new version."""

from __future__ import annotations

from fleetjobs.catalog.domain._common import Violation, name_violations

# Generous for migration scripts, small enough that one row stays an ordinary row.
SCRIPT_MAX = 4 * 1024 * 1024
COMMENT_MAX = 4096


def script_violations(command_text: str, field: str) -> list[Violation]:
    if not command_text.strip():
        return [(field, "is required: the script must contain SQL")]
    if len(command_text) > SCRIPT_MAX:
        return [(field, f"must be at most {SCRIPT_MAX} characters")]
    return []


def comment_violations(comment: str, field: str) -> list[Violation]:
    if len(comment) > COMMENT_MAX:
        return [(field, f"must be at most {COMMENT_MAX} characters")]
    return []


def content_violations(
    name: str, command_text: str, comment: str, prefix: str = "content"
) -> list[Violation]:
    return [
        *name_violations(name, f"{prefix}.name"),
        *script_violations(command_text, f"{prefix}.script.command_text"),
        *comment_violations(comment, f"{prefix}.comment"),
    ]
