"""Opaque page tokens: page_size defaults to 100 and is at most 1000."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from fleetjobs.core.grpc._errors import ApiError, invalid_argument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# Far beyond any list fleetjobs holds, and far below the databases' 64-bit OFFSET: a forged
# token with a larger offset is refused here instead of failing in the query.
MAX_OFFSET = 2**40
MAX_TOKEN_LENGTH = 512  # the tokens issued here are a few dozen characters
_NOT_OURS = "is not a token this service issued; pass a next_page_token exactly as returned"


def _not_ours() -> ApiError:
    return invalid_argument([("page_token", _NOT_OURS)])


def encode_page_token(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> dict[str, Any]:
    if not token:
        return {}
    if len(token) > MAX_TOKEN_LENGTH:
        raise _not_ours()
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeError, RecursionError):
        raise _not_ours() from None
    if not isinstance(value, dict):
        raise _not_ours()
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
        # bool is an int to Python, not to a token this service wrote.
        if type(offset) is not int or not 0 <= offset <= MAX_OFFSET:
            raise _not_ours()
        return cls(size=size, offset=offset)

    def next_token(self, returned: int, fetched_one_more: bool) -> str:
        """Call with the rows of a query that asked for `size + 1`."""
        return encode_page_token({"o": self.offset + returned}) if fetched_one_more else ""
