"""Errors of the crypto package.

One base class, so a service that decrypts a credential can turn every failure into one
"credential unusable" refusal, while tests and the catalog can still tell them apart.
Messages name key ids, files and header fields, never a token, a key or a plaintext.
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every error raised by fleetjobs.core.crypto."""


class KeyNotFoundError(CryptoError, LookupError):
    """The key store holds no key (or no usable key) under the requested id."""


class DecryptionError(CryptoError):
    """A JWE could not be decrypted: it was tampered with or made for another key."""


class InvalidTokenError(DecryptionError, ValueError):
    """A JWE is not a well-formed compact serialization with the one algorithm pair we accept.

    A subclass of DecryptionError because a tampered header or part usually lands here first,
    and callers that only care whether a token is usable should not have to know which check
    caught it.
    """
