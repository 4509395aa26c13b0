"""JWE compact serialization (RFC 7516) with exactly one algorithm pair.

``alg`` RSA-OAEP-256 wraps a fresh AES-256 content key, ``enc`` A256GCM seals the password
under it, and ``kid`` names the service key. This is the envelope the design describes, in the
standard shape, so a client in any language can make one with its JOSE library.

Only ``cryptography`` is used: the format is five base64url parts and two primitives, and
accepting a single algorithm pair leaves no ``alg`` negotiation for an attacker to steer.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Collection
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fleetjobs.core.crypto._errors import DecryptionError, InvalidTokenError, KeyNotFoundError
from fleetjobs.core.crypto._keys import MIN_KEY_SIZE, KeyStore

JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256GCM"
# A password JWE is well under 1 KiB; the cap bounds the work an untrusted token can cause.
MAX_TOKEN_LENGTH = 64 * 1024

_CEK_BYTES = 32
_IV_BYTES = 12  # RFC 7518 5.3: 96-bit IV for AES-GCM
_TAG_BYTES = 16  # RFC 7518 5.3: 128-bit authentication tag
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
# Header parameters that change how the token must be processed. We implement neither, and a
# recipient must not ignore them (RFC 7516 4.1.3, RFC 7515 4.1.11); compression would also
# leak the plaintext through lengths (CRIME). Other parameters (typ, cty, jwk...) are ignored.
_REFUSED_HEADERS = ("zip", "crit")


class _Parsed(NamedTuple):
    header: dict[str, Any]
    protected: str
    encrypted_key: bytes
    iv: bytes
    ciphertext: bytes
    tag: bytes


def encrypt_compact(plaintext: bytes, public_key_pem: str, key_id: str) -> str:
    """Encrypt ``plaintext`` for the key ``key_id`` whose public half is ``public_key_pem``."""
    if not key_id:
        raise ValueError("key_id must not be empty")
    public_key = _load_public_key(public_key_pem)
    header = json.dumps({"alg": JWE_ALG, "enc": JWE_ENC, "kid": key_id}, separators=(",", ":"))
    protected = _encode(header.encode("utf-8"))
    cek = AESGCM.generate_key(bit_length=_CEK_BYTES * 8)
    iv = os.urandom(_IV_BYTES)
    encrypted_key = public_key.encrypt(cek, _OAEP)
    # RFC 7516 5.1 step 14: the AAD is the ASCII of the encoded protected header.
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    ciphertext, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
    return ".".join(
        (protected, _encode(encrypted_key), _encode(iv), _encode(ciphertext), _encode(tag))
    )


def decrypt_compact(token: str, keys: KeyStore) -> bytes:
    """Decrypt a JWE made by ``encrypt_compact`` or any JOSE library with our alg and enc.

    Raises InvalidTokenError for a malformed token or another algorithm, KeyNotFoundError for
    a kid the store does not hold, and DecryptionError when the token does not authenticate.
    """
    parsed = _parse(token)
    private_key = keys.private_key(parsed.header["kid"])
    try:
        cek = private_key.decrypt(parsed.encrypted_key, _OAEP)
    except ValueError:
        cek = b""
    if len(cek) != _CEK_BYTES:
        # RFC 7516 11.5: go on with a random key so that a bad wrapped key fails exactly like
        # a bad tag, leaving no padding oracle on the RSA step.
        cek = os.urandom(_CEK_BYTES)
    try:
        return AESGCM(cek).decrypt(
            parsed.iv, parsed.ciphertext + parsed.tag, parsed.protected.encode("ascii")
        )
    except InvalidTag:
        raise DecryptionError(
            f"JWE for key {parsed.header['kid']!r} did not authenticate: "
            "it was altered or encrypted for another key"
        ) from None


def inspect_header(token: str, *, key_ids: Collection[str] | None = None) -> dict[str, Any]:
    """Validate a JWE's structure and protected header without decrypting it.

    For the catalog, which holds no private key: the token must be five base64url parts with
    the right IV and tag sizes, ``alg`` and ``enc`` exactly ours and a ``kid``; with
    ``key_ids`` (e.g. a PublicKeyRing's ``keys``) the kid must also be one of them. Returns
    a copy of the protected header.
    """
    parsed = _parse(token)
    kid = parsed.header["kid"]
    if key_ids is not None and kid not in key_ids:
        raise KeyNotFoundError(
            f"JWE kid {_shown(kid)} is not a key of this service; "
            "encrypt with the key GetEncryptionKey returns"
        )
    return dict(parsed.header)


def _parse(token: str) -> _Parsed:
    if not isinstance(token, str):
        raise InvalidTokenError("JWE must be a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidTokenError(f"JWE is longer than {MAX_TOKEN_LENGTH} characters")
    parts = token.split(".")
    if len(parts) != 5:
        raise InvalidTokenError(
            f"JWE compact serialization has 5 dot-separated parts, this one has {len(parts)}"
        )
    protected, encrypted_key, iv, ciphertext, tag = parts
    header = _parse_header(_decode(protected, "protected header"))
    parsed = _Parsed(
        header=header,
        protected=protected,
        encrypted_key=_decode(encrypted_key, "encrypted key"),
        iv=_decode(iv, "initialization vector"),
        ciphertext=_decode(ciphertext, "ciphertext"),
        tag=_decode(tag, "authentication tag"),
    )
    if not parsed.encrypted_key:
        raise InvalidTokenError("JWE encrypted key is empty")
    if len(parsed.iv) != _IV_BYTES:
        raise InvalidTokenError(f"JWE initialization vector must be {_IV_BYTES} bytes for A256GCM")
    if len(parsed.tag) != _TAG_BYTES:
        raise InvalidTokenError(f"JWE authentication tag must be {_TAG_BYTES} bytes for A256GCM")
    return parsed


def _parse_header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
    except InvalidTokenError:
        raise  # a repeated name, said precisely; it is a ValueError too
    except (UnicodeDecodeError, ValueError):
        raise InvalidTokenError("JWE protected header is not a JSON object") from None
    if not isinstance(header, dict):
        raise InvalidTokenError("JWE protected header is not a JSON object")
    if header.get("alg") != JWE_ALG:
        raise InvalidTokenError(f"JWE alg must be {JWE_ALG!r}, not {_shown(header.get('alg'))}")
    if header.get("enc") != JWE_ENC:
        raise InvalidTokenError(f"JWE enc must be {JWE_ENC!r}, not {_shown(header.get('enc'))}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidTokenError(
            "JWE protected header has no kid; set it to GetEncryptionKey's key_id"
        )
    refused = [name for name in _REFUSED_HEADERS if name in header]
    if refused:
        raise InvalidTokenError(f"JWE header parameters {refused} are not supported")
    return header


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            # RFC 7516 4: names must be unique; taking one of two kids or algs would let a
            # token mean different things to different parsers.
            raise InvalidTokenError(f"JWE protected header repeats {_shown(name)}")
        result[name] = value
    return result


def _load_public_key(pem: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (UnicodeEncodeError, ValueError, TypeError):
        raise ValueError("public_key_pem is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_KEY_SIZE:
        raise ValueError(f"public_key_pem is not an RSA key of {MIN_KEY_SIZE}+ bits")
    return key


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(part: str, what: str) -> bytes:
    # The standard decoder skips characters outside the alphabet and ignores padding bits, so
    # altered tokens could decode to the same bytes; strict means one spelling per value.
    if _BASE64URL.fullmatch(part) is None or len(part) % 4 == 1:
        raise InvalidTokenError(f"JWE {what} is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except binascii.Error:
        raise InvalidTokenError(f"JWE {what} is not unpadded base64url") from None
    if _encode(data) != part:
        raise InvalidTokenError(f"JWE {what} is not canonical base64url")
    return data


def _shown(value: object) -> str:
    # Header values come from whoever made the token: bounded and quoted before they reach a
    # message, so they cannot flood or forge a log line.
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
