"""The public half of the service key pair, as the catalog sees it.

The catalog never opens a private key: it reads the public keys of the shared key directory
(made by `make up`, or by the executor or results service on start) and re-reads them on every
use, so a rotation made by another process is seen at once. The files are a few KiB.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fleetjobs.core.crypto import CryptoError, PublicKeyRing, load_public_only
from fleetjobs.core.grpc import ApiError, unavailable


class PublicKeys:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def ring(self) -> PublicKeyRing:
        """The current keys; UNAVAILABLE while the directory has none yet (the services start
        together, so a client retrying a moment later succeeds)."""
        try:
            return await asyncio.to_thread(load_public_only, self._directory)
        except CryptoError as error:
            raise no_key(error) from None


def no_key(error: CryptoError) -> ApiError:
    return unavailable(f"no encryption key is available yet: {error}")
