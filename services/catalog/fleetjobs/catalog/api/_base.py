"""What every catalog servicer shares: one unit of work per RPC, request_id de-duplication,
pages, and the mapping of domain violations to INVALID_ARGUMENT."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from fleetjobs.catalog._keys import PublicKeys
from fleetjobs.catalog.db import RequestIds
from fleetjobs.catalog.domain import Violation
from fleetjobs.core.grpc import ApiError, PageRequest, invalid_argument

T = TypeVar("T")
R = TypeVar("R")

REQUEST_ID_MAX = 128


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int  # one more than the page size: the extra row says whether a next page exists
    request: PageRequest

    def finish(self, rows: Sequence[R]) -> tuple[Sequence[R], str]:
        more = len(rows) > self.request.size
        shown = rows[: self.request.size]
        return shown, self.request.next_token(len(shown), more)


def page_of(page_size: int, page_token: str) -> Page:
    request = PageRequest.parse(page_size, page_token)
    return Page(offset=request.offset, limit=request.size + 1, request=request)


def reject(problems: Sequence[Violation]) -> None:
    if problems:
        raise invalid_argument(problems)


def required(value: str, field: str) -> None:
    if not value:
        raise invalid_argument([(field, "is required")])


def mask_paths(has_mask: bool, paths: Sequence[str]) -> list[str] | None:
    """None = no mask (replace every field given). An empty mask counts as none."""
    return list(paths) if has_mask and paths else None


@contextmanager
def parameters_hidden() -> Iterator[None]:
    """Around statements that carry a credential's ciphertext: a database error escaping from
    them is logged by the RPC interceptor, and SQLAlchemy's message would otherwise list the
    statement's parameters, the JWE among them."""
    try:
        yield
    except StatementError as error:
        error.hide_parameters = True
        raise


class ServicerBase:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], keys: PublicKeys) -> None:
        self._sessions = sessions
        self._keys = keys

    async def _create_once(
        self,
        *,
        scope: str,
        request_id: str,
        what: str,
        create: Callable[[AsyncSession], Awaitable[tuple[str, T]]],
        load: Callable[[AsyncSession, str], Awaitable[T | None]],
        on_conflict: Callable[[AsyncSession], Awaitable[T]],
    ) -> T:
        """Runs `create` in one transaction with the (scope, request_id) record, so a repeat
        returns the resource the first call made, in its current state.

        `create` returns (resource key, result) and raises ALREADY_EXISTS for a name it sees
        taken. A unique-constraint failure at commit means a concurrent call won: the same
        request_id (replay its result) or the same name (`on_conflict` decides)."""
        if len(request_id) > REQUEST_ID_MAX:
            raise invalid_argument([("request_id", f"must be at most {REQUEST_ID_MAX} characters")])
        try:
            async with self._sessions.begin() as session:
                if request_id:
                    key = await RequestIds(session).get(scope, request_id)
                    if key is not None:
                        return await self._replay(session, load, key, what, request_id)
                key, result = await create(session)
                if request_id:
                    RequestIds(session).add(scope, request_id, key)
            return result
        except IntegrityError:
            pass
        async with self._sessions() as session:
            if request_id:
                key = await RequestIds(session).get(scope, request_id)
                if key is not None:
                    return await self._replay(session, load, key, what, request_id)
            return await on_conflict(session)

    @staticmethod
    async def _replay(
        session: AsyncSession,
        load: Callable[[AsyncSession, str], Awaitable[T | None]],
        key: str,
        what: str,
        request_id: str,
    ) -> T:
        result = await load(session, key)
        if result is None:
            # The first call succeeded but its resource was deleted since; creating it again
            # would act twice on one request_id.
            raise ApiError(
                grpc.StatusCode.NOT_FOUND,
                f"{what} {key!r}, made by request_id {request_id!r}, no longer exists",
                reason="NOT_FOUND",
            )
        return result
