"""The service key pair that wraps credential passwords.

Layout of the key directory (the state dir's ``keys/``)::

    fj-0123456789abcdef.private.pem   PKCS8, mode 0600 (executor and results service only)
    fj-0123456789abcdef.public.pem    SubjectPublicKeyInfo (the catalog publishes it)
    current                           the key id new ciphertext is made for

Keys are never overwritten or deleted here: a rotation adds a key and moves ``current``, so
every ciphertext stored under an older key still decrypts. The key id is derived from the
public key, so a key file can be checked against its name.

Several processes share one directory (the executor replicas and the results service start
together), so every file is written to a private temp file and then published with one atomic
step: ``os.link`` where the first writer must win (the initial ``current``), ``os.replace``
where the last writer may (rotation). Nobody ever reads a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fleetjobs.core.crypto._errors import CryptoError, KeyNotFoundError

KEY_SIZE = 3072
# Smaller keys are refused when loading one, whoever made it: RFC 7518 requires 2048 bits for
# RSA-OAEP-256, and anything below is breakable enough that decrypting with it is a bug.
MIN_KEY_SIZE = 2048
_PUBLIC_EXPONENT = 65537

_CURRENT = "current"
_PRIVATE_SUFFIX = ".private.pem"
_PUBLIC_SUFFIX = ".public.pem"
# A kid arrives from an untrusted JWE header and becomes part of a file name, so only names of
# exactly this shape are ever looked up; anything else cannot traverse out of the directory.
_KEY_ID_RE = re.compile(r"fj-[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A public key as GetEncryptionKey publishes it."""

    key_id: str
    pem: str


@dataclass(frozen=True, slots=True)
class PublicKeyRing:
    """The public halves of a key directory at one moment: what the catalog needs.

    ``keys`` holds every key that can still decrypt, ``current`` among them; a client-supplied
    JWE is acceptable when its kid is in ``keys``.
    """

    current: PublicKey
    keys: Mapping[str, PublicKey]

    def __contains__(self, key_id: object) -> bool:
        return key_id in self.keys


class KeyStore:
    """A key directory holding private keys: the executor's and the results service's view.

    Construction touches nothing on disk; ``ensure`` creates the first key pair. The current
    key id is read from disk on every call, so a rotation made by another process is seen at
    once; loaded private keys are cached because a kid always names the same key.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._directory = Path(directory)
        self._private: dict[str, rsa.RSAPrivateKey] = {}

    def __repr__(self) -> str:
        return f"KeyStore({str(self._directory)!r})"

    @property
    def directory(self) -> Path:
        return self._directory

    @classmethod
    def ensure(cls, directory: str | os.PathLike[str]) -> KeyStore:
        """Open the key directory, creating it and a first key pair when it has no current key.

        Safe to call from several processes at once: each may generate a candidate, but only
        the first to publish ``current`` wins; the others delete their candidate and use the
        winner's key.
        """
        store = cls(directory)
        _make_directory(store._directory)
        if not (store._directory / _CURRENT).exists():
            candidate = _generate()
            store._write_pair(candidate)
            if not _publish_exclusive(store._directory, _CURRENT, _current_bytes(candidate)):
                store._discard(_key_id(candidate.public_key()))
        # A current key whose private half is missing (a public-only directory) must fail
        # here, at start-up, rather than on the first credential.
        store.private_key(store.current_key_id())
        return store

    def current_key_id(self) -> str:
        return _read_current(self._directory)

    def current_public(self) -> PublicKey:
        return self.public_key(self.current_key_id())

    def public_key(self, key_id: str) -> PublicKey:
        return _read_public(self._directory, key_id)

    def key_ids(self) -> list[str]:
        """Every key id in the directory, sorted (the order means nothing)."""
        return _list_key_ids(self._directory)

    def private_key(self, key_id: str) -> rsa.RSAPrivateKey:
        """The private key named ``key_id``, for unwrapping a JWE's content key."""
        _check_key_id(key_id, self._directory)
        cached = self._private.get(key_id)
        if cached is not None:
            return cached
        path = self._directory / (key_id + _PRIVATE_SUFFIX)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyNotFoundError(
                f"no private key {key_id!r} in {self._directory}: the ciphertext was made for "
                "a key this service does not hold"
            ) from None
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError):
            # The parser's own message is dropped: it is about the file's bytes.
            raise CryptoError(f"private key file {path} is not an unencrypted PEM key") from None
        if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_KEY_SIZE:
            raise CryptoError(f"private key file {path} is not an RSA key of {MIN_KEY_SIZE}+ bits")
        if _key_id(key.public_key()) != key_id:
            raise CryptoError(f"private key file {path} holds a different key than its name says")
        self._private[key_id] = key
        return key

    def rotate(self) -> PublicKey:
        """Make a new key pair current; older keys stay for decrypting what they wrapped."""
        _make_directory(self._directory)
        candidate = _generate()
        self._write_pair(candidate)
        # Last writer wins on purpose: two concurrent rotations both leave usable keys.
        _publish_replace(self._directory, _CURRENT, _current_bytes(candidate))
        return self.current_public()

    def _write_pair(self, key: rsa.RSAPrivateKey) -> None:
        key_id = _key_id(key.public_key())
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Private half first: a reader that finds a public file may expect its private twin.
        _publish_exclusive(self._directory, key_id + _PRIVATE_SUFFIX, private_pem, mode=0o600)
        _publish_exclusive(
            self._directory, key_id + _PUBLIC_SUFFIX, _public_pem(key.public_key()), mode=0o644
        )

    def _discard(self, key_id: str) -> None:
        # Only a candidate that lost the race to become current is discarded; its id is unique
        # to this process, so no ciphertext can have been made for it.
        for suffix in (_PUBLIC_SUFFIX, _PRIVATE_SUFFIX):
            with contextlib.suppress(FileNotFoundError):
                (self._directory / (key_id + suffix)).unlink()
        _fsync_directory(self._directory)


def load_public_only(directory: str | os.PathLike[str]) -> PublicKeyRing:
    """Read the public keys of a key directory; never opens a private key file.

    The catalog calls this: it encrypts passwords given in plain text and checks the kid of
    client-made JWEs, and must work in a directory that holds no private key at all. Call it
    again to see a rotation.
    """
    path = Path(directory)
    current = _read_current(path)
    keys = {key_id: _read_public(path, key_id) for key_id in _list_key_ids(path)}
    if current not in keys:
        keys[current] = _read_public(path, current)
    return PublicKeyRing(current=keys[current], keys=keys)


def _generate() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=KEY_SIZE)


def _key_id(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "fj-" + hashlib.sha256(der).hexdigest()[:16]


def _public_pem(public_key: rsa.RSAPublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _current_bytes(key: rsa.RSAPrivateKey) -> bytes:
    return (_key_id(key.public_key()) + "\n").encode("ascii")


def _check_key_id(key_id: object, directory: Path) -> None:
    if not isinstance(key_id, str) or _KEY_ID_RE.fullmatch(key_id) is None:
        shown = repr(key_id)[:40]
        raise KeyNotFoundError(f"no key {shown} in {directory}: not a fleetjobs key id")


def _read_current(directory: Path) -> str:
    path = directory / _CURRENT
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyNotFoundError(
            f"no current key in {directory}: the executor or results service creates it on start"
        ) from None
    except UnicodeDecodeError:
        raise CryptoError(f"{path} does not name a key id") from None
    key_id = text.strip()
    if _KEY_ID_RE.fullmatch(key_id) is None:
        raise CryptoError(f"{path} does not name a key id")
    return key_id


def _read_public(directory: Path, key_id: str) -> PublicKey:
    _check_key_id(key_id, directory)
    path = directory / (key_id + _PUBLIC_SUFFIX)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyNotFoundError(f"no public key {key_id!r} in {directory}") from None
    key = _load_public(data, str(path))
    if _key_id(key) != key_id:
        raise CryptoError(f"public key file {path} holds a different key than its name says")
    # Re-serialised so the published PEM is canonical whatever whitespace the file has.
    return PublicKey(key_id=key_id, pem=_public_pem(key).decode("ascii"))


def _load_public(data: bytes, what: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise CryptoError(f"{what} is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_KEY_SIZE:
        raise CryptoError(f"{what} is not an RSA public key of {MIN_KEY_SIZE}+ bits")
    return key


def _list_key_ids(directory: Path) -> list[str]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    ids = (name.removesuffix(_PUBLIC_SUFFIX) for name in names if name.endswith(_PUBLIC_SUFFIX))
    return sorted(key_id for key_id in ids if _KEY_ID_RE.fullmatch(key_id))


def _make_directory(directory: Path) -> None:
    # 0700 only applies when we create it; an existing directory keeps the mode its owner chose.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write_temp(directory: Path, name: str, data: bytes, mode: int) -> Path:
    temp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        # The umask may have narrowed the mode; set it exactly so 0600 means 0600.
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return temp


def _publish_exclusive(directory: Path, name: str, data: bytes, mode: int = 0o644) -> bool:
    """Atomically create ``name`` with ``data`` unless it exists; True when this call made it."""
    temp = _write_temp(directory, name, data, mode)
    try:
        os.link(temp, directory / name)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    _fsync_directory(directory)
    return True


def _publish_replace(directory: Path, name: str, data: bytes, mode: int = 0o644) -> None:
    temp = _write_temp(directory, name, data, mode)
    try:
        os.replace(temp, directory / name)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    # Makes the new directory entry durable. Best effort: some file systems refuse to fsync a
    # directory, and atomicity (what concurrent readers rely on) does not depend on it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
