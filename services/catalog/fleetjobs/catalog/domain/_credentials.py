"""Credential rules: who may be named, how the password arrives, where it may be sent.

The catalog holds only public keys: a plaintext password is sealed here, together with the
allow-list it may be sent to, into a JWE and the plaintext dropped; a client-made JWE is checked
by its header alone, and the services that decrypt it refuse it unless the allow-list stored
beside it is the one sealed inside (docs/credentials.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleetjobs.catalog.domain._common import Violation, name_violations, text_violations
from fleetjobs.core.crypto import (
    CryptoError,
    PublicKeyRing,
    allowed_servers_problems,
    inspect_header,
    same_servers,
    seal_credential,
)

USERNAME_MAX = 256
# Far above any real password; bounds the RSA/AES work one request can ask for.
PASSWORD_MAX = 4096
CREDENTIAL_MASK_PATHS = frozenset({"username", "password", "encrypted_password", "allowed_servers"})


@dataclass(frozen=True, slots=True)
class SealedPassword:
    """A password as the catalog stores it: a compact JWE and the key it was made for."""

    jwe: str
    key_id: str

    def __repr__(self) -> str:  # keeps the ciphertext out of tracebacks and logs
        return f"SealedPassword(key_id={self.key_id!r})"


def username_violations(username: str, field: str) -> list[Violation]:
    return text_violations(username, field, max_length=USERNAME_MAX, required=True)


def allowed_servers_violations(entries: Sequence[str], field: str) -> list[Violation]:
    """Each bad entry as ``field[i]``; a list that is too long as ``field`` itself."""
    return [
        (field if index is None else f"{field}[{index}]", why)
        for index, why in allowed_servers_problems(entries)
    ]


def allow_list_change_violation(
    stored: Sequence[str], given: Sequence[str], *, rotate: bool
) -> str | None:
    """Why an update may not set ``given`` as the allow-list, or None. The list is sealed with
    the password, so changing it needs the password again; giving the same entries is no
    change."""
    if rotate or same_servers(given, stored):
        return None
    return (
        "allowed_servers is sealed with the password: re-enter the password to change where it "
        "may go (give password or encrypted_password with the new allowed_servers)"
    )


def password_choice_violations(
    password: str, encrypted_password: str, prefix: str
) -> list[Violation]:
    """Exactly one of `password` and `encrypted_password` (both strings; empty = not given)."""
    if password and encrypted_password:
        return [(f"{prefix}.password", "give password or encrypted_password, not both")]
    if not password and not encrypted_password:
        return [(f"{prefix}.password", "is required: give password or encrypted_password")]
    if len(password) > PASSWORD_MAX:
        return [(f"{prefix}.password", f"must be at most {PASSWORD_MAX} characters")]
    return []


def credential_violations(
    *,
    name: str,
    username: str,
    password: str,
    encrypted_password: str,
    allowed_servers: Sequence[str],
    prefix: str = "credential",
) -> list[Violation]:
    """Everything wrong with a new credential, field by field (no key material needed)."""
    return [
        *name_violations(name, f"{prefix}.name"),
        *username_violations(username, f"{prefix}.username"),
        *password_choice_violations(password, encrypted_password, prefix),
        *allowed_servers_violations(allowed_servers, f"{prefix}.allowed_servers"),
    ]


def seal_password(
    plaintext: str, allowed_servers: Sequence[str], keys: PublicKeyRing
) -> SealedPassword:
    """The password and the allow-list it may be sent to, sealed for the current key."""
    current = keys.current
    token = seal_credential(plaintext, allowed_servers, current.pem, current.key_id)
    return SealedPassword(jwe=token, key_id=current.key_id)


def accept_client_jwe(token: str, keys: PublicKeyRing) -> SealedPassword | str:
    """The client's JWE when its header is ours (alg, enc, a kid of this key ring), else why
    not. Nothing is decrypted: the catalog has no private key. The reason never quotes the
    token; crypto's messages name header fields only."""
    try:
        header = inspect_header(token, key_ids=keys.keys)
    except CryptoError as error:
        return str(error)
    return SealedPassword(jwe=token, key_id=str(header["kid"]))


def seal(
    password: str,
    encrypted_password: str,
    allowed_servers: Sequence[str],
    keys: PublicKeyRing,
    field: str,
) -> SealedPassword | Violation:
    """Seal a plaintext with ``allowed_servers``, or accept a JWE (which the client sealed with
    its own list; the catalog cannot look inside); exactly one is non-empty (checked before)."""
    if password:
        return seal_password(password, allowed_servers, keys)
    accepted = accept_client_jwe(encrypted_password, keys)
    if isinstance(accepted, str):
        return (field, accepted)
    return accepted
