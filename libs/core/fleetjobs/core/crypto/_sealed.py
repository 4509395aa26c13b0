"""The sealed credential: a password and the servers it may go to, in one JWE plaintext.

The plaintext of a credential's JWE is the UTF-8 JSON object
``{"password": "...", "allowed_servers": ["...", ...]}`` (docs/credentials.md), so whoever
holds the ciphertext cannot wrap it in a credential that allows other servers: the services
that decrypt it enforce the list sealed inside and refuse a stored list that differs.

Decoding is strict, so that one plaintext has one meaning: exactly those two names, each once;
a string (empty for a user without a password); a list of distinct strings, at most
``MAX_ALLOWED_SERVERS``. A plaintext that is not a JSON object is an old credential whose JWE
held the bare password (``UnsealedCredentialError``). No message quotes the plaintext.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fleetjobs.core.crypto._allow_entry import MAX_ALLOWED_SERVERS
from fleetjobs.core.crypto._errors import CryptoError
from fleetjobs.core.crypto._jwe import decrypt_compact, encrypt_compact
from fleetjobs.core.crypto._keys import KeyStore

PASSWORD = "password"
ALLOWED_SERVERS = "allowed_servers"


class InvalidSealedCredentialError(CryptoError, ValueError):
    """A decrypted plaintext is a JSON object, but not the sealed credential's shape."""


class UnsealedCredentialError(InvalidSealedCredentialError):
    """A decrypted plaintext holds no sealed allow-list: a credential stored before
    allow-lists were sealed, whose JWE holds the bare password."""


@dataclass(frozen=True, slots=True)
class SealedCredential:
    password: str = field(repr=False)
    allowed_servers: tuple[str, ...]


def encode_sealed(password: str, allowed_servers: Sequence[str]) -> bytes:
    """The JWE plaintext sealing ``password`` with ``allowed_servers`` (order kept)."""
    _check_shape({PASSWORD: password, ALLOWED_SERVERS: list(allowed_servers)}, error=ValueError)
    payload = {PASSWORD: password, ALLOWED_SERVERS: list(allowed_servers)}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def decode_sealed(plaintext: bytes) -> SealedCredential:
    """The sealed credential in a decrypted JWE plaintext.

    Raises UnsealedCredentialError when the plaintext is not a JSON object (an old credential),
    InvalidSealedCredentialError when it is one of another shape.
    """
    try:
        text = plaintext.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_unique_names, parse_constant=_no_constant)
    except InvalidSealedCredentialError:
        raise
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise UnsealedCredentialError(_UNSEALED) from None
    if not isinstance(value, dict):
        raise UnsealedCredentialError(_UNSEALED)
    _check_shape(value, error=InvalidSealedCredentialError)
    return SealedCredential(password=value[PASSWORD], allowed_servers=tuple(value[ALLOWED_SERVERS]))


def seal_credential(
    password: str, allowed_servers: Sequence[str], public_key_pem: str, key_id: str
) -> str:
    """A compact JWE for key ``key_id`` sealing ``password`` with ``allowed_servers``."""
    return encrypt_compact(encode_sealed(password, allowed_servers), public_key_pem, key_id)


def open_credential(token: str, keys: KeyStore) -> SealedCredential:
    """Decrypt and decode a credential's JWE; raises a CryptoError when either fails."""
    return decode_sealed(decrypt_compact(token, keys))


def same_servers(sealed: Sequence[str], stored: Sequence[str]) -> bool:
    """Whether a stored allow-list is the sealed one: the same entries, spelled the same, in
    any order (the catalog keeps the order it was given, which carries no meaning)."""
    return set(sealed) == set(stored)


_UNSEALED = (
    "the credential's ciphertext holds no sealed allow-list (it was stored before allow-lists "
    "were sealed with the password)"
)


def _check_shape(value: dict[str, Any], *, error: type[Exception]) -> None:
    if set(value) != {PASSWORD, ALLOWED_SERVERS}:
        raise error(
            f"a sealed credential has exactly the names {PASSWORD!r} and {ALLOWED_SERVERS!r}"
        )
    password, servers = value[PASSWORD], value[ALLOWED_SERVERS]
    # Empty is a password too: a development server's user may have none.
    if not isinstance(password, str) or not _utf8(password):
        raise error(f"a sealed credential's {PASSWORD!r} must be a Unicode string")
    if not isinstance(servers, list) or not all(isinstance(entry, str) for entry in servers):
        raise error(f"a sealed credential's {ALLOWED_SERVERS!r} must be a list of strings")
    if len(servers) > MAX_ALLOWED_SERVERS:
        raise error(
            f"a sealed credential's {ALLOWED_SERVERS!r} has more than {MAX_ALLOWED_SERVERS} entries"
        )
    if len(set(servers)) != len(servers):
        raise error(f"a sealed credential's {ALLOWED_SERVERS!r} repeats an entry")


def _utf8(text: str) -> bool:
    # JSON lets "\\ud800" through; such a string cannot be sent to any server.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _unique_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            # Two parsers could keep different copies; one plaintext must mean one thing.
            raise InvalidSealedCredentialError("a sealed credential repeats a name")
        result[name] = value
    return result


def _no_constant(name: str) -> Any:
    raise InvalidSealedCredentialError("a sealed credential holds a non-JSON number")
