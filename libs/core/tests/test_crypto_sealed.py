"""The sealed credential payload: a password and its allow-list in one JWE plaintext, decoded
strictly (docs/credentials.md)."""

from __future__ import annotations

import json

import pytest
from joserfc import jwe
from joserfc.jwk import RSAKey

from fleetjobs.core.crypto import (
    JWE_ALG,
    JWE_ENC,
    InvalidSealedCredentialError,
    KeyStore,
    SealedCredential,
    UnsealedCredentialError,
    decode_sealed,
    encode_sealed,
    open_credential,
    same_servers,
    seal_credential,
)

PASSWORD = "pa€s\\w'\"d"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.ensure(tmp_path_factory.mktemp("keys"))


def test_round_trip_through_a_jwe(store: KeyStore) -> None:
    public = store.current_public()
    token = seal_credential(PASSWORD, ["db1.example.com", "10.0.0.5:*"], public.pem, public.key_id)
    sealed = open_credential(token, store)
    assert sealed == SealedCredential(PASSWORD, ("db1.example.com", "10.0.0.5:*"))
    assert PASSWORD not in repr(sealed)


def test_the_plaintext_is_the_documented_json_object() -> None:
    plaintext = encode_sealed(PASSWORD, ["db1"])
    assert json.loads(plaintext) == {"password": PASSWORD, "allowed_servers": ["db1"]}


def test_a_client_seals_with_any_jose_library(store: KeyStore) -> None:
    # The example of docs/credentials.md, with joserfc.
    public = store.current_public()
    plaintext = json.dumps({"password": "s3cret", "allowed_servers": ["*.db.example.com"]})
    token = jwe.encrypt_compact(
        {"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.key_id},
        plaintext.encode(),
        RSAKey.import_key(public.pem),
        algorithms=[JWE_ALG, JWE_ENC],
    )
    assert open_credential(token, store) == SealedCredential("s3cret", ("*.db.example.com",))


@pytest.mark.parametrize(
    "plaintext",
    [b"s3cret", b"", b"12345", b'"a json string"', b"[1, 2]", b"\xff\xfe not utf-8"],
)
def test_a_plaintext_that_is_no_object_is_an_old_unsealed_credential(plaintext: bytes) -> None:
    with pytest.raises(UnsealedCredentialError, match="holds no sealed allow-list"):
        decode_sealed(plaintext)


def test_an_empty_password_is_a_password() -> None:
    # A development server's user may have none (MariaDB's root, here).
    assert decode_sealed(b'{"password": "", "allowed_servers": ["127.0.0.1"]}').password == ""


@pytest.mark.parametrize(
    ("plaintext", "message"),
    [
        (b'{"password": "x"}', "exactly the names"),
        (b'{"allowed_servers": []}', "exactly the names"),
        (b'{"password": "x", "allowed_servers": [], "username": "u"}', "exactly the names"),
        (
            b'{"password": "x", "allowed_servers": ["*"], "allowed_servers": ["a"]}',
            "repeats a name",
        ),
        (b'{"password": "x", "password": "y", "allowed_servers": []}', "repeats a name"),
        (b'{"password": 1, "allowed_servers": []}', "must be a Unicode string"),
        (b'{"password": null, "allowed_servers": []}', "must be a Unicode string"),
        (b'{"password": "\\ud800", "allowed_servers": []}', "Unicode"),
        (b'{"password": "x", "allowed_servers": "*"}', "list of strings"),
        (b'{"password": "x", "allowed_servers": [1]}', "list of strings"),
        (b'{"password": "x", "allowed_servers": [{"a": 1}]}', "list of strings"),
        (b'{"password": "x", "allowed_servers": ["a", "a"]}', "repeats an entry"),
        (b'{"password": "x", "allowed_servers": [NaN]}', "non-JSON number"),
        (b'{"password": "", "allowed_servers": "*"}', "list of strings"),
    ],
)
def test_a_malformed_payload_is_refused(plaintext: bytes, message: str) -> None:
    with pytest.raises(InvalidSealedCredentialError, match=message) as caught:
        decode_sealed(plaintext)
    assert not isinstance(caught.value, UnsealedCredentialError)


def test_at_most_256_servers() -> None:
    servers = [f"db{i}.example.com" for i in range(256)]
    assert len(decode_sealed(encode_sealed("x", servers)).allowed_servers) == 256
    plaintext = json.dumps({"password": "x", "allowed_servers": [*servers, "one-more"]})
    with pytest.raises(InvalidSealedCredentialError, match="more than 256"):
        decode_sealed(plaintext.encode())
    with pytest.raises(ValueError, match="more than 256"):
        encode_sealed("x", [*servers, "one-more"])


def test_errors_never_quote_the_plaintext() -> None:
    for plaintext in (PASSWORD.encode(), json.dumps({"password": PASSWORD}).encode()):
        with pytest.raises(InvalidSealedCredentialError) as caught:
            decode_sealed(plaintext)
        assert "pa€s" not in str(caught.value)


def test_the_stored_list_is_compared_as_a_set_of_exact_spellings() -> None:
    assert same_servers(["a", "b:5432"], ["b:5432", "a"])
    assert not same_servers(["a"], ["a", "*"])
    assert not same_servers(["a"], ["A"])
    assert not same_servers(["127.0.0.1"], ["127.0.0.1:*"])
