"""Credential security: the service key pair, password JWEs, server allow-lists, scrubbing.

The catalog encrypts and checks (``load_public_only``, ``encrypt_compact``, ``inspect_header``,
``validate_allowed_server_entry``) and never holds a private key; the executor and the results
service decrypt (``KeyStore.ensure``, ``decrypt_compact``) and refuse any server a credential
does not allow (``check_server_allowed``) before connecting. ``scrub`` cleans every database
message before it is stored or logged.
"""

from fleetjobs.core.crypto._allow_list import (
    ANY_SERVER,
    ServerNotAllowedError,
    check_server_allowed,
    server_allowed,
    validate_allowed_server_entry,
)
from fleetjobs.core.crypto._errors import (
    CryptoError,
    DecryptionError,
    InvalidTokenError,
    KeyNotFoundError,
)
from fleetjobs.core.crypto._jwe import (
    JWE_ALG,
    JWE_ENC,
    decrypt_compact,
    encrypt_compact,
    inspect_header,
)
from fleetjobs.core.crypto._keys import KeyStore, PublicKey, PublicKeyRing, load_public_only
from fleetjobs.core.crypto._scrub import MASK, scrub

__all__ = [
    "ANY_SERVER",
    "JWE_ALG",
    "JWE_ENC",
    "MASK",
    "CryptoError",
    "DecryptionError",
    "InvalidTokenError",
    "KeyNotFoundError",
    "KeyStore",
    "PublicKey",
    "PublicKeyRing",
    "ServerNotAllowedError",
    "check_server_allowed",
    "decrypt_compact",
    "encrypt_compact",
    "inspect_header",
    "load_public_only",
    "scrub",
    "server_allowed",
    "validate_allowed_server_entry",
]
