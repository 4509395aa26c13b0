from __future__ import annotations

import uuid
from collections.abc import Sequence

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.catalog.api._base import ServicerBase, page_of, reject, required
from fleetjobs.catalog.api._convert import database_spec, target_to_proto
from fleetjobs.catalog.db import Jobs, Targets
from fleetjobs.catalog.domain import (
    KIND_COLLECTION,
    KIND_DATABASE,
    PLANNED_KINDS,
    collection_identity_key,
    collection_violations,
    database_target_violations,
    job_in_use_text,
    name_violations,
    uuid_violations,
)
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import TargetRow
from fleetjobs.core.grpc import (
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    unimplemented,
)
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as pb


class TargetsApi(ServicerBase):
    async def CreateTarget(
        self, request: pb.CreateTargetRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateTargetResponse:
        kind = request.target.WhichOneof("kind")
        if kind is None:
            raise invalid_argument(
                [("target.kind", "is required: set database or custom_collection")]
            )
        if kind in PLANNED_KINDS:
            raise unimplemented(PLANNED_KINDS[kind])
        if kind == "database":
            spec = database_spec(request.target.database)
            reject(database_target_violations(spec, "target.database"))
            spec = spec.normalised()
            identity = spec.identity_key()

            async def create(session: AsyncSession) -> tuple[str, resources.Target]:
                targets = Targets(session)
                # An identical database target is the same target: hand back the first one.
                existing = await targets.find_by_identity(identity)
                if existing is not None:
                    return existing.target_id, target_to_proto(existing)
                row = TargetRow(
                    target_id=str(uuid.uuid4()),
                    kind=KIND_DATABASE,
                    engine=spec.engine,
                    server_name=spec.server_name,
                    port=spec.port,
                    database_name=spec.database_name,
                    options=dict(spec.options),
                    identity_key=identity,
                    collection_name=None,
                    create_time=utcnow(),
                )
                targets.add(row)
                return row.target_id, target_to_proto(row)

            async def conflict(session: AsyncSession) -> resources.Target:
                existing = await Targets(session).find_by_identity(identity)
                if existing is None:  # the winner was deleted at once; let the client retry
                    raise already_exists("target", identity)
                return target_to_proto(existing)

        else:
            name = request.target.custom_collection.name
            reject(collection_violations(name, "target.custom_collection"))

            async def create(session: AsyncSession) -> tuple[str, resources.Target]:
                targets = Targets(session)
                if await targets.get_collection(name) is not None:
                    raise already_exists("custom collection", name)
                row = TargetRow(
                    target_id=str(uuid.uuid4()),
                    kind=KIND_COLLECTION,
                    identity_key=collection_identity_key(name),
                    collection_name=name,
                    create_time=utcnow(),
                )
                targets.add(row)
                return row.target_id, target_to_proto(row)

            async def conflict(session: AsyncSession) -> resources.Target:
                raise already_exists("custom collection", name)

        target = await self._create_once(
            scope="CreateTarget",
            request_id=request.request_id,
            what="target",
            create=create,
            load=self._load_target,
            on_conflict=conflict,
        )
        return pb.CreateTargetResponse(target=target)

    async def GetTarget(
        self, request: pb.GetTargetRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTargetResponse:
        required(request.target_id, "target_id")
        async with self._sessions() as session:
            target = await self._load_target(session, request.target_id)
        if target is None:
            raise not_found("target", request.target_id)
        return pb.GetTargetResponse(target=target)

    async def ListTargets(
        self, request: pb.ListTargetsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListTargetsResponse:
        page = page_of(request.page_size, request.page_token)
        parent_id = request.parent_target_id or None
        async with self._sessions() as session:
            targets = Targets(session)
            if parent_id is not None:
                parent = await targets.get(parent_id)
                if parent is None:
                    raise not_found("target", parent_id)
                if parent.kind != KIND_COLLECTION:
                    raise invalid_argument([("parent_target_id", "is not a custom collection")])
            rows = await targets.list(offset=page.offset, limit=page.limit, parent_id=parent_id)
            shown, token = page.finish(rows)
            listed = await self._with_counts(targets, shown)
        return pb.ListTargetsResponse(targets=listed, next_page_token=token)

    async def DeleteTarget(
        self, request: pb.DeleteTargetRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteTargetResponse:
        """Deleting a target also takes it out of every collection (and empties it, for a
        collection); jobs that name it directly keep it alive."""
        required(request.target_id, "target_id")
        async with self._sessions.begin() as session:
            if not await Targets(session).delete(request.target_id):
                raise not_found("target", request.target_id)
            job = await Jobs(session).first_using_target(request.target_id)
            if job is not None:
                raise failed_precondition(
                    f"target {request.target_id!r} is used by job "
                    f"{job_in_use_text(*job)}; change or delete "
                    "the jobs that use it first",
                    reason="TARGET_IN_USE",
                )
        return pb.DeleteTargetResponse()

    async def AddChildTarget(
        self, request: pb.AddChildTargetRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddChildTargetResponse:
        reject(
            [
                *name_violations(request.custom_collection_name, "custom_collection_name"),
                *uuid_violations(request.child_target_id, "child_target_id"),
            ]
        )
        try:
            async with self._sessions.begin() as session:
                targets = Targets(session)
                collection = await self._collection(targets, request.custom_collection_name)
                child = await targets.get(request.child_target_id, for_share=True)
                if child is None:
                    raise not_found("target", request.child_target_id)
                if child.target_id == collection.target_id:
                    raise invalid_argument(
                        [("child_target_id", "a custom collection cannot contain itself")]
                    )
                if collection.target_id in await targets.descendants(child.target_id):
                    raise invalid_argument(
                        [
                            (
                                "child_target_id",
                                f"collection {request.custom_collection_name!r} is already "
                                "inside this target: adding it would make a cycle",
                            )
                        ]
                    )
                if not await targets.is_member(collection.target_id, child.target_id):
                    targets.add_member(collection.target_id, child.target_id)
        except IntegrityError:
            pass  # a concurrent call added the same child: adding twice is a no-op
        return pb.AddChildTargetResponse(
            target=await self._collection_proto(request.custom_collection_name)
        )

    async def RemoveChildTarget(
        self, request: pb.RemoveChildTargetRequest, context: grpc.aio.ServicerContext
    ) -> pb.RemoveChildTargetResponse:
        """Removing a target that is not a member is a no-op; an unknown one is NOT_FOUND."""
        reject(
            [
                *name_violations(request.custom_collection_name, "custom_collection_name"),
                *uuid_violations(request.child_target_id, "child_target_id"),
            ]
        )
        async with self._sessions.begin() as session:
            targets = Targets(session)
            collection = await self._collection(targets, request.custom_collection_name)
            removed = await targets.remove_member(collection.target_id, request.child_target_id)
            if not removed and await targets.get(request.child_target_id) is None:
                raise not_found("target", request.child_target_id)
        return pb.RemoveChildTargetResponse(
            target=await self._collection_proto(request.custom_collection_name)
        )

    @staticmethod
    async def _collection(targets: Targets, name: str) -> TargetRow:
        collection = await targets.get_collection(name)
        if collection is None:
            raise not_found("custom collection", name)
        return collection

    async def _collection_proto(self, name: str) -> resources.Target:
        async with self._sessions() as session:
            targets = Targets(session)
            collection = await self._collection(targets, name)
            return (await self._with_counts(targets, [collection]))[0]

    @staticmethod
    async def _with_counts(targets: Targets, rows: Sequence[TargetRow]) -> list[resources.Target]:
        counts = await targets.child_counts(
            [row.target_id for row in rows if row.kind == KIND_COLLECTION]
        )
        return [target_to_proto(row, counts.get(row.target_id, 0)) for row in rows]

    @classmethod
    async def _load_target(cls, session: AsyncSession, target_id: str) -> resources.Target | None:
        targets = Targets(session)
        row = await targets.get(target_id)
        if row is None:
            return None
        return (await cls._with_counts(targets, [row]))[0]
