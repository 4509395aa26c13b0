from __future__ import annotations

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.catalog.api._base import ServicerBase, page_of, reject, required
from fleetjobs.catalog.api._convert import content_to_proto
from fleetjobs.catalog.db import Contents, Jobs
from fleetjobs.catalog.domain import (
    comment_violations,
    content_violations,
    job_in_use_text,
    name_violations,
    script_violations,
)
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import ContentVersionRow
from fleetjobs.core.grpc import (
    ApiError,
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    unavailable,
)
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as pb

# Concurrent UpdateContentDefinition calls race for the next version number; the loser of a
# race tries again on the new latest version.
_VERSION_RACE_RETRIES = 5


class ContentsApi(ServicerBase):
    async def CreateContent(
        self, request: pb.CreateContentRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateContentResponse:
        given = request.content
        reject(content_violations(given.name, given.script.command_text, given.comment))

        async def create(session: AsyncSession) -> tuple[str, resources.Content]:
            contents = Contents(session)
            if await contents.latest(given.name) is not None:
                raise already_exists("content", given.name)
            row = ContentVersionRow(
                name=given.name,
                version=1,
                comment=given.comment,
                command_text=given.script.command_text,
                create_time=utcnow(),
            )
            contents.add(row)
            return row.name, content_to_proto(row)

        async def conflict(session: AsyncSession) -> resources.Content:
            raise already_exists("content", given.name)

        content = await self._create_once(
            scope="CreateContent",
            request_id=request.request_id,
            what="content",
            create=create,
            load=self._load_latest,
            on_conflict=conflict,
        )
        return pb.CreateContentResponse(content=content)

    async def UpdateContentDefinition(
        self, request: pb.UpdateContentDefinitionRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateContentDefinitionResponse:
        reject(
            [
                *name_violations(request.name, "name"),
                *script_violations(request.script.command_text, "script.command_text"),
                *comment_violations(request.comment, "comment"),
            ]
        )
        for _ in range(_VERSION_RACE_RETRIES):
            try:
                async with self._sessions.begin() as session:
                    contents = Contents(session)
                    latest = await contents.latest(request.name)
                    if latest is None:
                        raise not_found("content", request.name)
                    row = ContentVersionRow(
                        name=request.name,
                        version=latest.version + 1,
                        comment=request.comment,
                        command_text=request.script.command_text,
                        create_time=utcnow(),
                    )
                    contents.add(row)
                    content = content_to_proto(row)
                return pb.UpdateContentDefinitionResponse(content=content)
            except IntegrityError:
                continue
        raise unavailable(f"content {request.name!r} is being changed concurrently; try again")

    async def GetContent(
        self, request: pb.GetContentRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetContentResponse:
        required(request.name, "name")
        if request.version < 0:
            raise invalid_argument([("version", "must be 0 (the latest) or a version number")])
        async with self._sessions() as session:
            contents = Contents(session)
            if request.version == 0:
                row = await contents.latest(request.name)
            else:
                row = await contents.get(request.name, request.version)
                if row is None and await contents.latest(request.name) is not None:
                    raise ApiError(
                        grpc.StatusCode.NOT_FOUND,
                        f"content {request.name!r} has no version {request.version}",
                        reason="NOT_FOUND",
                    )
        if row is None:
            raise not_found("content", request.name)
        return pb.GetContentResponse(content=content_to_proto(row))

    async def ListContents(
        self, request: pb.ListContentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListContentsResponse:
        page = page_of(request.page_size, request.page_token)
        async with self._sessions() as session:
            rows = await Contents(session).list_latest(offset=page.offset, limit=page.limit)
        shown, token = page.finish(rows)
        return pb.ListContentsResponse(
            contents=[content_to_proto(row) for row in shown], next_page_token=token
        )

    async def ListContentVersions(
        self, request: pb.ListContentVersionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListContentVersionsResponse:
        required(request.name, "name")
        page = page_of(request.page_size, request.page_token)
        async with self._sessions() as session:
            contents = Contents(session)
            rows = await contents.list_versions(request.name, offset=page.offset, limit=page.limit)
            if not rows and await contents.latest(request.name) is None:
                raise not_found("content", request.name)
        shown, token = page.finish(rows)
        return pb.ListContentVersionsResponse(
            contents=[content_to_proto(row) for row in shown], next_page_token=token
        )

    async def DeleteContent(
        self, request: pb.DeleteContentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteContentResponse:
        required(request.name, "name")
        async with self._sessions.begin() as session:
            if not await Contents(session).delete(request.name):
                raise not_found("content", request.name)
            job = await Jobs(session).first_using_content(request.name)
            if job is not None:
                raise failed_precondition(
                    f"content {request.name!r} is used by job "
                    f"{job_in_use_text(*job)}; change or delete the "
                    "jobs that use it first",
                    reason="CONTENT_IN_USE",
                )
        return pb.DeleteContentResponse()

    @staticmethod
    async def _load_latest(session: AsyncSession, name: str) -> resources.Content | None:
        row = await Contents(session).latest(name)
        return None if row is None else content_to_proto(row)
