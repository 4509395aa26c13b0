from __future__ import annotations

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
from sqlalchemy.ext.asyncio import AsyncSession

from fleetjobs.catalog.api._base import (
    ServicerBase,
    mask_paths,
    page_of,
    parameters_hidden,
    reject,
    required,
)
from fleetjobs.catalog.api._convert import credential_to_proto
from fleetjobs.catalog.db import Credentials, Jobs
from fleetjobs.catalog.domain import (
    CREDENTIAL_MASK_PATHS,
    SealedPassword,
    Violation,
    allow_list_change_violation,
    allowed_servers_violations,
    credential_violations,
    job_in_use_text,
    mask_violations,
    name_violations,
    password_choice_violations,
    seal,
    username_violations,
)
from fleetjobs.core.crypto import JWE_ALG, JWE_ENC
from fleetjobs.core.db import utcnow
from fleetjobs.core.db.models import CredentialRow
from fleetjobs.core.grpc import already_exists, failed_precondition, invalid_argument, not_found
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as pb


class CredentialsApi(ServicerBase):
    async def GetEncryptionKey(
        self, request: pb.GetEncryptionKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEncryptionKeyResponse:
        current = (await self._keys.ring()).current
        return pb.GetEncryptionKeyResponse(
            encryption_key=resources.EncryptionKey(
                key_id=current.key_id,
                algorithm=JWE_ALG,
                content_encryption=JWE_ENC,
                public_key_pem=current.pem,
            )
        )

    async def CreateCredential(
        self, request: pb.CreateCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateCredentialResponse:
        given = request.credential
        reject(
            credential_violations(
                name=given.name,
                username=given.username,
                password=given.password,
                encrypted_password=given.encrypted_password,
                allowed_servers=list(given.allowed_servers),
            )
        )
        sealed = await self._seal(
            given.password, given.encrypted_password, list(given.allowed_servers), "credential"
        )

        async def create(session: AsyncSession) -> tuple[str, resources.Credential]:
            credentials = Credentials(session)
            if await credentials.get(given.name) is not None:
                raise already_exists("credential", given.name)
            now = utcnow()
            row = CredentialRow(
                name=given.name,
                username=given.username,
                encrypted_password=sealed.jwe,
                key_id=sealed.key_id,
                allowed_servers=list(given.allowed_servers),
                create_time=now,
                update_time=now,
            )
            credentials.add(row)
            return row.name, credential_to_proto(row)

        async def conflict(session: AsyncSession) -> resources.Credential:
            raise already_exists("credential", given.name)

        with parameters_hidden():
            credential = await self._create_once(
                scope="CreateCredential",
                request_id=request.request_id,
                what="credential",
                create=create,
                load=self._load_credential,
                on_conflict=conflict,
            )
        return pb.CreateCredentialResponse(credential=credential)

    async def GetCredential(
        self, request: pb.GetCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCredentialResponse:
        required(request.name, "name")
        async with self._sessions() as session:
            credential = await self._load_credential(session, request.name)
        if credential is None:
            raise not_found("credential", request.name)
        return pb.GetCredentialResponse(credential=credential)

    async def ListCredentials(
        self, request: pb.ListCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCredentialsResponse:
        page = page_of(request.page_size, request.page_token)
        async with self._sessions() as session:
            rows = await Credentials(session).list(offset=page.offset, limit=page.limit)
        shown, token = page.finish(rows)
        return pb.ListCredentialsResponse(
            credentials=[credential_to_proto(row) for row in shown], next_page_token=token
        )

    async def UpdateCredential(
        self, request: pb.UpdateCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateCredentialResponse:
        """With a mask, the masked fields are replaced (an empty allowed_servers clears the
        list). Without one, every field given: a username, a password or JWE, a non-empty
        allowed_servers; clearing the allow-list therefore needs the mask.

        The allow-list is sealed with the password (docs/credentials.md): a new plain password
        is sealed with the new list, or with the stored one when the list is not changed; a
        changed list without a new password or JWE is FAILED_PRECONDITION."""
        given = request.credential
        paths = mask_paths(request.HasField("update_mask"), request.update_mask.paths)
        problems: list[Violation] = [
            *name_violations(given.name, "credential.name"),
            *mask_violations(paths or (), CREDENTIAL_MASK_PATHS),
        ]
        if paths is None:
            set_username = bool(given.username)
            new_password, new_jwe = given.password, given.encrypted_password
            rotate = bool(new_password or new_jwe)
            set_allowed = bool(given.allowed_servers)
        else:
            set_username = "username" in paths
            new_password = given.password if "password" in paths else ""
            new_jwe = given.encrypted_password if "encrypted_password" in paths else ""
            rotate = "password" in paths or "encrypted_password" in paths
            set_allowed = "allowed_servers" in paths
        if set_username:
            problems += username_violations(given.username, "credential.username")
        if rotate:
            problems += password_choice_violations(new_password, new_jwe, "credential")
        if set_allowed:
            problems += allowed_servers_violations(
                list(given.allowed_servers), "credential.allowed_servers"
            )
        reject(problems)

        with parameters_hidden():
            credential = await self._apply_update(
                given,
                set_username=set_username,
                new_password=new_password,
                new_jwe=new_jwe,
                rotate=rotate,
                set_allowed=set_allowed,
            )
        return pb.UpdateCredentialResponse(credential=credential)

    async def _apply_update(
        self,
        given: resources.Credential,
        *,
        set_username: bool,
        new_password: str,
        new_jwe: str,
        rotate: bool,
        set_allowed: bool,
    ) -> resources.Credential:
        """In one transaction: load the row, refuse an allow-list change without a password,
        seal the password with the list it will be stored with, write."""
        async with self._sessions.begin() as session:
            row = await Credentials(session).get(given.name)
            if row is None:
                raise not_found("credential", given.name)
            allowed = list(given.allowed_servers) if set_allowed else list(row.allowed_servers)
            why = allow_list_change_violation(row.allowed_servers, allowed, rotate=rotate)
            if why is not None:
                raise failed_precondition(why, reason="ALLOWED_SERVERS_SEALED")
            sealed = (
                await self._seal(new_password, new_jwe, allowed, "credential") if rotate else None
            )
            if set_username:
                row.username = given.username
            if sealed is not None:
                row.encrypted_password = sealed.jwe
                row.key_id = sealed.key_id
            if set_allowed:
                row.allowed_servers = list(given.allowed_servers)
            if set_username or sealed is not None or set_allowed:
                row.update_time = utcnow()
            return credential_to_proto(row)

    async def DeleteCredential(
        self, request: pb.DeleteCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteCredentialResponse:
        required(request.name, "name")
        async with self._sessions.begin() as session:
            # Delete first, then look for users: the row lock the delete takes makes a job
            # being created with this credential either finish first (and be seen here) or
            # find the credential gone.
            if not await Credentials(session).delete(request.name):
                raise not_found("credential", request.name)
            job = await Jobs(session).first_using_credential(request.name)
            if job is not None:
                raise failed_precondition(
                    f"credential {request.name!r} is used by job "
                    f"{job_in_use_text(*job)}; change or delete the "
                    "jobs that use it first",
                    reason="CREDENTIAL_IN_USE",
                )
        return pb.DeleteCredentialResponse()

    async def _seal(
        self, password: str, encrypted_password: str, allowed_servers: list[str], prefix: str
    ) -> SealedPassword:
        sealed = seal(
            password,
            encrypted_password,
            allowed_servers,
            await self._keys.ring(),
            f"{prefix}.encrypted_password",
        )
        if isinstance(sealed, tuple):
            raise invalid_argument([sealed])
        return sealed

    @staticmethod
    async def _load_credential(session: AsyncSession, name: str) -> resources.Credential | None:
        row = await Credentials(session).get(name)
        return None if row is None else credential_to_proto(row)
