"""Opaque page tokens (API.md: page_size default 100, at most 1000)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from fleetjobs.core.grpc._errors import invalid_argument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def encode_page_token(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise invalid_argument([("page_token", "is not a token this service returned")]) from None
    if not isinstance(value, dict):
        raise invalid_argument([("page_token", "is not a token this service returned")])
    return value


@dataclass(frozen=True)
class PageRequest:
    """A validated page_size and decoded page_token. Lists are keyset-paginated on an
    `offset` into a stable order; `offset` keeps tokens opaque yet simple."""

    size: int
    offset: int

    @classmethod
    def parse(cls, page_size: int, page_token: str) -> PageRequest:
        if page_size < 0:
            raise invalid_argument([("page_size", "must not be negative")])
        size = DEFAULT_PAGE_SIZE if page_size == 0 else min(page_size, MAX_PAGE_SIZE)
        position = decode_page_token(page_token)
        offset = position.get("o", 0)
        if not isinstance(offset, int) or offset < 0:
            raise invalid_argument([("page_token", "is not a token this service returned")])
        return cls(size=size, offset=offset)

    def next_token(self, returned: int, fetched_one_more: bool) -> str:
        """Call with the rows of a query that asked for `size + 1`."""
        return encode_page_token({"o": self.offset + returned}) if fetched_one_more else ""
