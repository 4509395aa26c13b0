"""A credential name → username and password for one server and port, for the services that
connect (executor: targets; results: destinations).

In this order, before any connection is made (docs/credentials.md):

1. the server name must be one host name or IP literal (``server_name_problem``);
2. the credential's username, ciphertext and stored allow-list come from the catalog's internal
   RPC (cached for CACHE_SECONDS);
3. the ciphertext is decrypted and its sealed payload decoded (cached by a digest of the
   ciphertext); an old ciphertext holding a bare password, or any other plaintext, is
   refused;
4. the stored allow-list must be the sealed one (any order), or the credential is refused: a
   ciphertext wrapped in a credential that allows more servers is worth nothing;
5. the server and port must be allowed by the sealed list.

Every refusal is a CredentialRefusedError, whose message names no secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from fleetjobs.core.clients._catalog import CatalogClient, DefinitionNotFound
from fleetjobs.core.crypto import (
    CryptoError,
    InvalidSealedCredentialError,
    KeyStore,
    SealedCredential,
    ServerNotAllowedError,
    check_server_allowed,
    live_secrets,
    open_credential,
    same_servers,
    server_name_problem,
)
from fleetjobs.core.sql import DEFAULT_PORTS

# Short enough that a rotated password or allow-list takes effect within seconds.
CACHE_SECONDS = 1.0
# Decrypted credentials kept in memory, keyed by a digest of their ciphertext: an RSA-3072
# unwrap costs over a millisecond, and a job decrypts the same credential once per database.
# A rotation makes a new ciphertext, so it never serves a stale password.
DECRYPTED_ENTRIES = 256
RE_ENTER = (
    "re-enter the password to change where it may go: update the credential with its password "
    "(or a new encrypted_password) and the allowed_servers it may be sent to"
)


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
        self._decrypted: OrderedDict[bytes, SealedCredential] = OrderedDict()

    async def resolve(
        self, credential_name: str, *, server_name: str, port: int, engine: str
    ) -> Secret:
        """The login for ``server_name:port`` on ``engine`` (``port`` 0: the engine's default).
        Raises CredentialRefusedError."""
        if not credential_name:
            raise CredentialRefusedError("no credential is named for this server")
        # Again here, for rows older than the catalog's check: a name a driver reads as more
        # than one host would reach servers the allow-list never saw.
        why = server_name_problem(server_name)
        if why is not None:
            shown = repr(server_name if len(server_name) <= 80 else server_name[:77] + "...")
            raise CredentialRefusedError(f"server name {shown} {why}")
        username, ciphertext, stored = await self._secret(credential_name)
        sealed = self._open(credential_name, ciphertext)
        if not same_servers(sealed.allowed_servers, stored):
            raise CredentialRefusedError(
                f"credential {credential_name!r} is refused: its allowed_servers differ from the "
                f"list sealed with its password; {RE_ENTER}"
            )
        try:
            check_server_allowed(
                server_name,
                sealed.allowed_servers,
                port=port,
                default_port=DEFAULT_PORTS.get(engine, 0),
                credential_name=credential_name,
            )
        except ServerNotAllowedError as error:
            raise CredentialRefusedError(str(error)) from None
        return Secret(username=username, password=sealed.password)

    def _open(self, credential_name: str, ciphertext: str) -> SealedCredential:
        digest = hashlib.sha256(ciphertext.encode()).digest()
        sealed = self._decrypted.get(digest)
        if sealed is not None:
            self._decrypted.move_to_end(digest)
            return sealed
        try:
            sealed = open_credential(ciphertext, self._keys)
        except InvalidSealedCredentialError as error:
            raise CredentialRefusedError(
                f"credential {credential_name!r} is refused: {error}; {RE_ENTER}"
            ) from None
        except CryptoError as error:
            raise CredentialRefusedError(
                f"credential {credential_name!r} cannot be decrypted: {error}"
            ) from None
        # Before anything can log it: every log line is scrubbed against these.
        live_secrets.remember(sealed.password)
        self._decrypted[digest] = sealed
        if len(self._decrypted) > DECRYPTED_ENTRIES:
            self._decrypted.popitem(last=False)
        return sealed

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
