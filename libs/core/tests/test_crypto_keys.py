"""The key store: creation, file modes, rotation, public-only loading and concurrent start-up."""

from __future__ import annotations

import hashlib
import multiprocessing
import shutil
import stat
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fleetjobs.core.crypto import (
    CryptoError,
    KeyNotFoundError,
    KeyStore,
    decrypt_compact,
    encrypt_compact,
    load_public_only,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ensure_creates_an_rsa_3072_pair_with_a_derived_key_id(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    store = KeyStore.ensure(directory)

    public = store.current_public()
    key = serialization.load_pem_public_key(public.pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 3072
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public.key_id == "fj-" + hashlib.sha256(der).hexdigest()[:16]
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["current", f"{public.key_id}.private.pem", f"{public.key_id}.public.pem"]
    )
    assert (directory / "current").read_text().strip() == public.key_id
    assert store.private_key(public.key_id).key_size == 3072


def test_private_key_file_is_0600_and_a_new_directory_0700(tmp_path: Path) -> None:
    directory = tmp_path / "state" / "keys"
    store = KeyStore.ensure(directory)
    key_id = store.current_key_id()

    assert _mode(directory / f"{key_id}.private.pem") == 0o600
    assert _mode(directory / f"{key_id}.public.pem") == 0o644
    assert _mode(directory) == 0o700
    assert (
        (directory / f"{key_id}.private.pem")
        .read_text()
        .startswith(
            "-----BEGIN PRIVATE KEY-----"  # PKCS8, unencrypted
        )
    )


def test_ensure_again_keeps_the_existing_key(tmp_path: Path) -> None:
    first = KeyStore.ensure(tmp_path).current_key_id()
    assert KeyStore.ensure(tmp_path).current_key_id() == first
    assert KeyStore(tmp_path).key_ids() == [first]


def test_rotate_makes_a_new_current_key_and_old_tokens_still_decrypt(tmp_path: Path) -> None:
    store = KeyStore.ensure(tmp_path)
    old = store.current_public()
    old_token = encrypt_compact(b"old password", old.pem, old.key_id)

    new = store.rotate()

    assert new.key_id != old.key_id
    assert store.current_public() == new
    assert sorted(store.key_ids()) == sorted([old.key_id, new.key_id])
    assert _mode(tmp_path / f"{new.key_id}.private.pem") == 0o600
    # Another process opening the directory sees the rotation and both keys.
    other = KeyStore(tmp_path)
    assert other.current_key_id() == new.key_id
    assert decrypt_compact(old_token, other) == b"old password"
    assert decrypt_compact(encrypt_compact(b"new", new.pem, new.key_id), other) == b"new"


def test_load_public_only_needs_no_private_key(tmp_path: Path) -> None:
    store = KeyStore.ensure(tmp_path / "full")
    old = store.current_public()
    new = store.rotate()
    # The catalog's directory: public halves and the current pointer only.
    public_only = tmp_path / "catalog"
    public_only.mkdir()
    for path in (tmp_path / "full").iterdir():
        if not path.name.endswith(".private.pem"):
            shutil.copy(path, public_only / path.name)

    ring = load_public_only(public_only)

    assert ring.current == new
    assert dict(ring.keys) == {old.key_id: old, new.key_id: new}
    assert old.key_id in ring
    assert "fj-0000000000000000" not in ring
    # The same directory cannot serve a decrypting service, and ensure() must not paper over
    # that by minting a key nobody encrypted for.
    with pytest.raises(KeyNotFoundError, match="no private key"):
        KeyStore.ensure(public_only)
    assert sorted(p.name for p in public_only.iterdir()) == sorted(
        ["current", f"{old.key_id}.public.pem", f"{new.key_id}.public.pem"]
    )


def test_load_public_only_without_keys_says_who_creates_them(tmp_path: Path) -> None:
    with pytest.raises(KeyNotFoundError, match=r"no current key .* creates it on start"):
        load_public_only(tmp_path)


def test_unknown_key_id_raises_a_clear_error(tmp_path: Path) -> None:
    store = KeyStore.ensure(tmp_path)
    with pytest.raises(KeyNotFoundError, match="no private key 'fj-0123456789abcdef'"):
        store.private_key("fj-0123456789abcdef")
    with pytest.raises(KeyNotFoundError, match="no public key 'fj-0123456789abcdef'"):
        store.public_key("fj-0123456789abcdef")


@pytest.mark.parametrize(
    "key_id", ["../current", "fj-0123456789abcdef/../../x", "", "FJ-0123456789ABCDEF", "x" * 500]
)
def test_key_ids_of_another_shape_are_never_turned_into_paths(tmp_path: Path, key_id: str) -> None:
    store = KeyStore.ensure(tmp_path / "keys")
    with pytest.raises(KeyNotFoundError, match="not a fleetjobs key id") as caught:
        store.private_key(key_id)
    assert len(str(caught.value)) < 200 + len(str(tmp_path))


def test_a_key_file_that_does_not_match_its_name_is_refused(tmp_path: Path) -> None:
    store = KeyStore.ensure(tmp_path)
    key_id = store.current_key_id()
    intruder = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / f"{key_id}.private.pem").write_bytes(
        intruder.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(CryptoError, match="different key than its name says"):
        KeyStore(tmp_path).private_key(key_id)


def test_a_corrupt_current_file_is_an_error_not_a_new_key(tmp_path: Path) -> None:
    (tmp_path / "current").write_text("not a key id\n")
    with pytest.raises(CryptoError, match="does not name a key id"):
        KeyStore.ensure(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["current"]


def _ensure_and_report(
    directory: str, barrier: Barrier, results: multiprocessing.Queue[str]
) -> None:
    barrier.wait()  # start together, so every process finds no key and generates a candidate
    results.put(KeyStore.ensure(directory).current_key_id())


def test_concurrent_ensure_from_several_processes_yields_one_key(tmp_path: Path) -> None:
    # fork: the target lives in a test module, which spawn could not import by name.
    context = multiprocessing.get_context("fork")
    count = 4
    barrier = context.Barrier(count)
    results: multiprocessing.Queue[str] = context.Queue()
    directory = tmp_path / "keys"
    processes = [
        context.Process(target=_ensure_and_report, args=(str(directory), barrier, results))
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    key_ids = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    assert len(set(key_ids)) == 1
    (key_id,) = set(key_ids)
    # The losers removed their candidates and every temp file is gone.
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["current", f"{key_id}.private.pem", f"{key_id}.public.pem"]
    )
    store = KeyStore(directory)
    public = store.current_public()
    assert decrypt_compact(encrypt_compact(b"pw", public.pem, public.key_id), store) == b"pw"
