"""JWE compact: round trips, interop with joserfc both ways, and strict refusal of bad tokens."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwe
from joserfc.jwk import RSAKey

from fleetjobs.core.crypto import (
    JWE_ALG,
    JWE_ENC,
    DecryptionError,
    InvalidTokenError,
    KeyNotFoundError,
    KeyStore,
    PublicKey,
    decrypt_compact,
    encrypt_compact,
    inspect_header,
    load_public_only,
)

PLAINTEXT = b"correct horse battery staple"
# joserfc refuses RSA-OAEP-256 by default ("not recommended" in its registry); naming the
# algorithms explicitly is how a client allows it.
JOSERFC_ALGORITHMS = [JWE_ALG, JWE_ENC]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.ensure(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def public(store: KeyStore) -> PublicKey:
    return store.current_public()


@pytest.fixture(scope="module")
def token(public: PublicKey) -> str:
    return encrypt_compact(PLAINTEXT, public.pem, public.key_id)


def _b64d(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_part(token: str, index: int, data: bytes) -> str:
    parts = token.split(".")
    parts[index] = _b64e(data)
    return ".".join(parts)


def _flip_bit(token: str, index: int) -> str:
    data = bytearray(_b64d(token.split(".")[index]))
    data[len(data) // 2] ^= 0x01
    return _with_part(token, index, bytes(data))


def _with_header(token: str, header: dict[str, object]) -> str:
    return _with_part(token, 0, json.dumps(header).encode())


def _assert_reveals_nothing(error: BaseException, token: str) -> None:
    message = str(error)
    assert PLAINTEXT.decode() not in message
    for part in token.split("."):
        if len(part) > 16:  # the header part is the kid and alg, which messages may name
            assert part not in message
    assert error.__cause__ is None


@pytest.mark.parametrize("plaintext", [PLAINTEXT, b"", "pässwörd 🔑".encode(), bytes(range(256))])
def test_round_trip(store: KeyStore, public: PublicKey, plaintext: bytes) -> None:
    assert decrypt_compact(encrypt_compact(plaintext, public.pem, public.key_id), store) == (
        plaintext
    )


def test_token_shape_and_header(token: str, public: PublicKey) -> None:
    parts = token.split(".")
    assert len(parts) == 5
    assert json.loads(_b64d(parts[0])) == {"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.key_id}
    assert len(_b64d(parts[1])) == 3072 // 8
    assert len(_b64d(parts[2])) == 12
    assert len(_b64d(parts[3])) == len(PLAINTEXT)
    assert len(_b64d(parts[4])) == 16
    assert "=" not in token


def test_every_encryption_uses_a_fresh_content_key_and_iv(public: PublicKey) -> None:
    first = encrypt_compact(PLAINTEXT, public.pem, public.key_id).split(".")
    second = encrypt_compact(PLAINTEXT, public.pem, public.key_id).split(".")
    assert first[0] == second[0]
    assert all(a != b for a, b in zip(first[1:], second[1:], strict=True))


def test_joserfc_decrypts_our_token(store: KeyStore, public: PublicKey, token: str) -> None:
    private_pem = (store.directory / f"{public.key_id}.private.pem").read_text()
    key = RSAKey.import_key(private_pem)
    result = jwe.decrypt_compact(token, key, algorithms=JOSERFC_ALGORITHMS)
    assert result.plaintext == PLAINTEXT
    assert result.protected == {"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.key_id}


def test_we_decrypt_a_joserfc_token(store: KeyStore, public: PublicKey) -> None:
    # What a client does with GetEncryptionKey's answer.
    key = RSAKey.import_key(public.pem)
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.key_id}
    token = jwe.encrypt_compact(header, PLAINTEXT, key, algorithms=JOSERFC_ALGORITHMS)
    assert inspect_header(token, key_ids=[public.key_id])["kid"] == public.key_id
    assert decrypt_compact(token, store) == PLAINTEXT


def test_joserfc_token_with_extra_header_parameters_decrypts(
    store: KeyStore, public: PublicKey
) -> None:
    key = RSAKey.import_key(public.pem)
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.key_id, "cty": "text/plain"}
    token = jwe.encrypt_compact(header, PLAINTEXT, key, algorithms=JOSERFC_ALGORITHMS)
    assert decrypt_compact(token, store) == PLAINTEXT


@pytest.mark.parametrize(
    ("index", "what"),
    [(1, "encrypted key"), (2, "iv"), (3, "ciphertext"), (4, "tag")],
)
def test_a_flipped_bit_anywhere_fails_authentication(
    store: KeyStore, token: str, index: int, what: str
) -> None:
    tampered = _flip_bit(token, index)
    with pytest.raises(DecryptionError, match="did not authenticate") as caught:
        decrypt_compact(tampered, store)
    assert type(caught.value) is DecryptionError, what
    _assert_reveals_nothing(caught.value, tampered)


def test_an_altered_protected_header_fails_authentication(
    store: KeyStore, public: PublicKey, token: str
) -> None:
    # Still valid and still ours, but no longer the header the tag was computed over.
    tampered = _with_header(
        token, {"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.key_id, "typ": "JOSE"}
    )
    with pytest.raises(DecryptionError, match="did not authenticate") as caught:
        decrypt_compact(tampered, store)
    _assert_reveals_nothing(caught.value, tampered)


def test_truncated_ciphertext_fails(store: KeyStore, token: str) -> None:
    tampered = _with_part(token, 3, _b64d(token.split(".")[3])[:-1])
    with pytest.raises(DecryptionError):
        decrypt_compact(tampered, store)


def test_a_token_for_another_key_fails_clearly(store: KeyStore, tmp_path: Path) -> None:
    other = KeyStore.ensure(tmp_path).current_public()
    token = encrypt_compact(PLAINTEXT, other.pem, other.key_id)
    with pytest.raises(KeyNotFoundError, match=f"no private key '{other.key_id}'") as caught:
        decrypt_compact(token, store)
    _assert_reveals_nothing(caught.value, token)


def test_a_token_whose_kid_lies_fails_authentication(
    store: KeyStore, public: PublicKey, tmp_path: Path
) -> None:
    # Encrypted for a foreign key but labelled with ours: the RSA step fails, and must fail
    # exactly like a bad tag (no padding oracle).
    other = KeyStore.ensure(tmp_path).current_public()
    token = encrypt_compact(PLAINTEXT, other.pem, public.key_id)
    with pytest.raises(DecryptionError, match="did not authenticate") as caught:
        decrypt_compact(token, store)
    assert type(caught.value) is DecryptionError


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "RSA-OAEP", "enc": JWE_ENC, "kid": "k"}, "alg must be 'RSA-OAEP-256'"),
        ({"alg": "RSA1_5", "enc": JWE_ENC, "kid": "k"}, "alg must be"),
        ({"alg": "dir", "enc": JWE_ENC, "kid": "k"}, "alg must be"),
        ({"alg": "none", "enc": JWE_ENC, "kid": "k"}, "alg must be"),
        ({"enc": JWE_ENC, "kid": "k"}, "alg must be"),
        ({"alg": JWE_ALG, "enc": "A128GCM", "kid": "k"}, "enc must be 'A256GCM'"),
        ({"alg": JWE_ALG, "enc": "A256CBC-HS512", "kid": "k"}, "enc must be"),
        ({"alg": JWE_ALG, "enc": JWE_ENC}, "no kid"),
        ({"alg": JWE_ALG, "enc": JWE_ENC, "kid": ""}, "no kid"),
        ({"alg": JWE_ALG, "enc": JWE_ENC, "kid": ["k"]}, "no kid"),
        ({"alg": JWE_ALG, "enc": JWE_ENC, "kid": "k", "zip": "DEF"}, "not supported"),
        ({"alg": JWE_ALG, "enc": JWE_ENC, "kid": "k", "crit": ["exp"]}, "not supported"),
    ],
)
def test_headers_other_than_ours_are_refused(
    store: KeyStore, token: str, header: dict[str, object], message: str
) -> None:
    tampered = _with_header(token, header)
    with pytest.raises(InvalidTokenError, match=message):
        inspect_header(tampered)
    with pytest.raises(InvalidTokenError, match=message):
        decrypt_compact(tampered, store)


def test_a_header_repeating_a_name_is_refused(token: str, public: PublicKey) -> None:
    raw = f'{{"alg":"{JWE_ALG}","enc":"{JWE_ENC}","kid":"{public.key_id}","kid":"x"}}'
    with pytest.raises(InvalidTokenError, match="repeats 'kid'"):
        inspect_header(_with_part(token, 0, raw.encode()))


@pytest.mark.parametrize(
    "header", [b"not json", b"[1, 2]", b'"a string"', b"\xff\xfe", b""], ids=repr
)
def test_a_header_that_is_not_a_json_object_is_refused(token: str, header: bytes) -> None:
    with pytest.raises(InvalidTokenError, match="not a JSON object"):
        inspect_header(_with_part(token, 0, header))


_MALFORMED = [
    "4 parts",
    "6 parts",
    "empty",
    "padded",
    "space",
    "newline",
    "standard base64",
    "impossible length",
    "short iv",
    "long iv",
    "short tag",
    "no encrypted key",
    "too long",
]


@pytest.mark.parametrize("case", _MALFORMED)
def test_malformed_serializations_are_refused(store: KeyStore, token: str, case: str) -> None:
    parts = token.split(".")
    cases = {
        "4 parts": ".".join(parts[:4]),
        "6 parts": token + ".",
        "empty": "",
        "padded": ".".join([*parts[:2], parts[2] + "==", *parts[3:]]),
        "space": " " + token,
        "newline": token + "\n",
        "standard base64": ".".join([*parts[:3], parts[3] + "+/", parts[4]]),
        "impossible length": ".".join([*parts[:2], parts[2] + "A", *parts[3:]]),
        "short iv": _with_part(token, 2, b"\x00" * 11),
        "long iv": _with_part(token, 2, b"\x00" * 16),
        "short tag": _with_part(token, 4, b"\x00" * 12),
        "no encrypted key": _with_part(token, 1, b""),
        "too long": token[:-1] + "A" * 70_000,
    }
    assert sorted(cases) == sorted(_MALFORMED)
    bad = cases[case]
    with pytest.raises(InvalidTokenError) as caught:
        decrypt_compact(bad, store)
    _assert_reveals_nothing(caught.value, bad)
    with pytest.raises(InvalidTokenError):
        inspect_header(bad)


def test_non_canonical_base64_is_refused(token: str) -> None:
    # The last character of a 16-byte tag (22 chars) carries 4 padding bits; setting one keeps
    # the decoded bytes but changes the spelling.
    tag = token.split(".")[4]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    tweaked = tag[:-1] + alphabet[alphabet.index(tag[-1]) | 1]
    assert _b64d(tweaked) == _b64d(tag)
    with pytest.raises(InvalidTokenError, match="not canonical base64url"):
        inspect_header(token[: -len(tag)] + tweaked)


def test_inspect_header_checks_the_kid_against_known_keys(
    store: KeyStore, public: PublicKey, token: str
) -> None:
    ring = load_public_only(store.directory)
    assert inspect_header(token) == {"alg": JWE_ALG, "enc": JWE_ENC, "kid": public.key_id}
    assert inspect_header(token, key_ids=ring.keys)["kid"] == public.key_id
    with pytest.raises(KeyNotFoundError, match="not a key of this service") as caught:
        inspect_header(token, key_ids=["fj-0000000000000000"])
    _assert_reveals_nothing(caught.value, token)


def test_a_long_hostile_kid_is_not_echoed_in_full(store: KeyStore, token: str) -> None:
    tampered = _with_header(token, {"alg": JWE_ALG, "enc": JWE_ENC, "kid": "k" * 5000})
    with pytest.raises(KeyNotFoundError) as caught:
        decrypt_compact(tampered, store)
    assert len(str(caught.value)) < 300
    with pytest.raises(KeyNotFoundError) as caught:
        inspect_header(tampered, key_ids=[])
    assert len(str(caught.value)) < 300


def test_encrypt_refuses_keys_that_are_not_rsa_2048_or_more(public: PublicKey) -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    curve = ec.generate_private_key(ec.SECP256R1()).public_key()
    for key in (small, curve):
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        with pytest.raises(ValueError, match="not an RSA key of 2048"):
            encrypt_compact(PLAINTEXT, pem, "fj-0000000000000000")
    with pytest.raises(ValueError, match="not a PEM public key"):
        encrypt_compact(PLAINTEXT, "-----BEGIN PUBLIC KEY-----\nnope\n", public.key_id)
    with pytest.raises(ValueError, match="key_id"):
        encrypt_compact(PLAINTEXT, public.pem, "")
