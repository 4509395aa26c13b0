"""Credential security: the service key pair, sealed credential JWEs, server allow-lists,
scrubbing.

The catalog seals and checks (``load_public_only``, ``seal_credential``, ``inspect_header``,
``allowed_servers_problems``) and never holds a private key; the executor and the results
service decrypt (``KeyStore.ensure``, ``open_credential``), refuse a stored allow-list that
differs from the sealed one (``same_servers``) and any server and port the sealed list does not
allow (``check_server_allowed``) before connecting. ``scrub`` cleans every database message
before it is stored or logged; every decrypted password is also remembered in
``live_secrets``, so the log formatter masks it in any line. ``_jwe`` knows nothing of
credentials.
"""

from fleetjobs.core.crypto._allow_entry import (
    ANY_PORT,
    ANY_SERVER,
    MAX_ALLOWED_SERVERS,
    allowed_servers_problems,
    validate_allowed_server_entry,
)
from fleetjobs.core.crypto._allow_list import (
    ServerNotAllowedError,
    check_server_allowed,
    server_allowed,
    server_name_problem,
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
from fleetjobs.core.crypto._live_secrets import LiveSecrets, live_secrets
from fleetjobs.core.crypto._scrub import MASK, scrub, scrub_all
from fleetjobs.core.crypto._sealed import (
    InvalidSealedCredentialError,
    SealedCredential,
    UnsealedCredentialError,
    decode_sealed,
    encode_sealed,
    open_credential,
    same_servers,
    seal_credential,
)

__all__ = [
    "ANY_PORT",
    "ANY_SERVER",
    "JWE_ALG",
    "JWE_ENC",
    "MASK",
    "MAX_ALLOWED_SERVERS",
    "CryptoError",
    "DecryptionError",
    "InvalidSealedCredentialError",
    "InvalidTokenError",
    "KeyNotFoundError",
    "KeyStore",
    "LiveSecrets",
    "PublicKey",
    "PublicKeyRing",
    "SealedCredential",
    "ServerNotAllowedError",
    "UnsealedCredentialError",
    "allowed_servers_problems",
    "check_server_allowed",
    "decode_sealed",
    "decrypt_compact",
    "encode_sealed",
    "encrypt_compact",
    "inspect_header",
    "live_secrets",
    "load_public_only",
    "open_credential",
    "same_servers",
    "scrub",
    "scrub_all",
    "seal_credential",
    "server_allowed",
    "server_name_problem",
    "validate_allowed_server_entry",
]
