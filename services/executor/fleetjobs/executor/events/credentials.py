"""Credentials as the connectors need them: a Login, or a refusal the policy never retries."""

from __future__ import annotations

from fleetjobs.core.clients import CredentialRefusedError, CredentialResolver
from fleetjobs.executor.connectors import Login, ScriptError


def refusal(message: str) -> ScriptError:
    return ScriptError(message, error_class="refused", refused=True)


async def login_for(
    resolver: CredentialResolver,
    credential_name: str,
    *,
    server_name: str,
    port: int,
    engine: str,
) -> Login:
    """The login for ``server_name:port`` (0: the engine's default), once the credential's
    sealed allow-list allows it (docs/credentials.md)."""
    if not credential_name:
        raise refusal(f"the job names no credential, and {engine} targets need one")
    try:
        secret = await resolver.resolve(
            credential_name, server_name=server_name, port=port, engine=engine
        )
    except CredentialRefusedError as error:
        raise refusal(str(error)) from None
    return Login(username=secret.username, password=secret.password)
