"""Rules every catalog resource shares: names, field violations, update masks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Iterable

# (field path, what is wrong with it), e.g. ("job.result_destination.table_name", "…").
Violation = tuple[str, str]

NAME_MAX = 128
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def name_violations(value: str, field: str, *, required: bool = True) -> list[Violation]:
    """A resource name: 1-128 characters of letters, digits, '.', '_' and '-', first a letter
    or digit. The value is echoed only when it already passed, so a pasted secret stays out of
    the error message."""
    if not value:
        return [(field, "is required")] if required else []
    if len(value) > NAME_MAX:
        return [(field, f"must be at most {NAME_MAX} characters")]
    if _NAME_RE.fullmatch(value) is None:
        return [
            (
                field,
                "must be 1-128 characters of letters, digits, '.', '_' and '-', "
                "starting with a letter or digit",
            )
        ]
    return []


def text_violations(value: str, field: str, *, max_length: int, required: bool) -> list[Violation]:
    """A free-form single-line value (user names, server names)."""
    if not value:
        return [(field, "is required")] if required else []
    if len(value) > max_length:
        return [(field, f"must be at most {max_length} characters")]
    if _CONTROL_RE.search(value) or value != value.strip():
        return [(field, "must not contain control characters or surrounding whitespace")]
    return []


def uuid_violations(value: str, field: str) -> list[Violation]:
    if not value:
        return [(field, "is required")]
    try:
        uuid.UUID(value)
    except ValueError:
        return [(field, "must be a UUID")]
    return []


def mask_violations(
    paths: Iterable[str], mutable: Collection[str], field: str = "update_mask.paths"
) -> list[Violation]:
    """Update-mask paths are relative to the resource (`allowed_servers`, not
    `credential.allowed_servers`); anything but a mutable field is refused."""
    problems: list[Violation] = []
    for index, path in enumerate(paths):
        if path not in mutable:
            problems.append(
                (
                    f"{field}[{index}]",
                    f"{path!r} is not a mutable field; use one of: {', '.join(sorted(mutable))}",
                )
            )
    return problems
