"""A credential name → username and password for one server, for the services that connect
(executor: targets; results: destinations). The ciphertext comes from the catalog's
internal RPC and is decrypted here; a server outside the allow-list is refused before any
connection is made (design.md, "Security")."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from fleetjobs.core.clients._catalog import CatalogClient, DefinitionNotFound
from fleetjobs.core.crypto import (
    CryptoError,
    KeyStore,
    ServerNotAllowedError,
    check_server_allowed,
    decrypt_compact,
)

# Short enough that a rotated password or allow-list takes effect within seconds.
CACHE_SECONDS = 1.0
# Decrypted passwords kept in memory, keyed by a digest of their ciphertext: an RSA-3072
# unwrap costs over a millisecond, and a job decrypts the same credential once per database.
# A rotation makes a new ciphertext, so it never serves a stale password.
DECRYPTED_ENTRIES = 256


class CredentialRefusedError(Exception):
    """fleetjobs refuses to use the credential here; retrying cannot help."""


@dataclass(frozen=True)
class Secret:
    username: str
    password: str = field(repr=False)


class CredentialResolver:
    def __init__(self, catalog: CatalogClient, keys: KeyStore) -> None:
        self._catalog = catalog
        self._keys = keys
        self._cache: dict[str, tuple[float, str, str, list[str]]] = {}
        self._lookups: dict[str, asyncio.Future[tuple[str, str, list[str]]]] = {}
        self._decrypted: OrderedDict[bytes, str] = OrderedDict()

    async def resolve(self, credential_name: str, *, server_name: str) -> Secret:
        if not credential_name:
            raise CredentialRefusedError("no credential is named for this server")
        username, ciphertext, allowed = await self._secret(credential_name)
        try:
            check_server_allowed(server_name, allowed, credential_name=credential_name)
        except ServerNotAllowedError as error:
            raise CredentialRefusedError(str(error)) from None
        return Secret(username=username, password=self._decrypt(credential_name, ciphertext))

    def _decrypt(self, credential_name: str, ciphertext: str) -> str:
        digest = hashlib.sha256(ciphertext.encode()).digest()
        password = self._decrypted.get(digest)
        if password is not None:
            self._decrypted.move_to_end(digest)
            return password
        try:
            password = decrypt_compact(ciphertext, self._keys).decode()
        except CryptoError as error:
            raise CredentialRefusedError(
                f"credential {credential_name!r} cannot be decrypted: {error}"
            ) from None
        self._decrypted[digest] = password
        if len(self._decrypted) > DECRYPTED_ENTRIES:
            self._decrypted.popitem(last=False)
        return password

    async def _secret(self, name: str) -> tuple[str, str, list[str]]:
        cached = self._cache.get(name)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1], cached[2], cached[3]
        # Single flight: the tasks of a job all miss the cache together; one asks the catalog.
        pending = self._lookups.get(name)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[tuple[str, str, list[str]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._lookups[name] = future
        try:
            value = await self._fetch(name)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as error:
            future.set_exception(error)
            future.exception()  # mark it retrieved: the waiters re-raise it
            raise
        else:
            future.set_result(value)
            return value
        finally:
            del self._lookups[name]

    async def _fetch(self, name: str) -> tuple[str, str, list[str]]:
        try:
            secret = await self._catalog.get_credential_secret(name)
        except DefinitionNotFound:
            raise CredentialRefusedError(f"credential {name!r} does not exist") from None
        entry = (
            time.monotonic() + CACHE_SECONDS,
            secret.username,
            secret.encrypted_password,
            list(secret.allowed_servers),
        )
        self._cache[name] = entry
        return entry[1], entry[2], entry[3]
