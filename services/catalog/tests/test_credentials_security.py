"""Passwords: sealed with their allow-list into a JWE for the service key, never returned,
never stored in clear; the allow-list changes only with the password (docs/credentials.md)."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]  # grpcio ships no types
import pytest
from google.protobuf import field_mask_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from joserfc import jwe
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.engine import make_url

from fleetjobs.core.crypto import KeyStore, SealedCredential, open_credential
from fleetjobs.core.db import make_sync_engine
from fleetjobs.core.db.models import CredentialRow
from fleetjobs.internal.v1 import catalog_internal_service_pb2 as internal_pb
from fleetjobs.v1 import catalog_resources_pb2 as r
from fleetjobs.v1 import catalog_service_pb2 as pb

Code = grpc.StatusCode


def _jwe_with_joserfc(
    plaintext: str, public_key_pem: str, *, kid: str, alg: str = "RSA-OAEP-256"
) -> str:
    key = RSAKey.import_key(public_key_pem)
    header = {"alg": alg, "enc": "A256GCM", "kid": kid}
    return jwe.encrypt_compact(header, plaintext.encode(), key, algorithms=[alg, "A256GCM"])


def _sealed_jwe(
    password: str, allowed: list[str], public_key_pem: str, *, kid: str, alg: str = "RSA-OAEP-256"
) -> str:
    """What a client makes: the documented JSON object, encrypted with its JOSE library."""
    payload = json.dumps({"password": password, "allowed_servers": allowed})
    return _jwe_with_joserfc(payload, public_key_pem, kid=kid, alg=alg)


def _opened(catalog: Any, name: str) -> SealedCredential:
    return open_credential(_stored_row(catalog, name).encrypted_password, catalog.keys)


def _encryption_key(catalog: Any) -> Any:
    return catalog.stub.GetEncryptionKey(pb.GetEncryptionKeyRequest()).encryption_key


def _stored_row(catalog: Any, name: str) -> Any:
    engine = make_sync_engine(catalog.control_db_url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(CredentialRow).where(CredentialRow.name == name)).one()
    finally:
        engine.dispose()


def test_encryption_key(catalog: Any) -> None:
    key = _encryption_key(catalog)
    assert key.key_id == catalog.keys.current_key_id()
    assert key.algorithm == "RSA-OAEP-256"
    assert key.content_encryption == "A256GCM"
    assert key.public_key_pem == catalog.keys.current_public().pem
    assert "PRIVATE" not in key.public_key_pem


def test_plaintext_password_is_sealed(catalog: Any) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    name = catalog.unique("cred")
    created = catalog.stub.CreateCredential(
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=name, username="app", password=password, allowed_servers=["db1.example.com"]
            )
        )
    ).credential

    # No response carries the password or its ciphertext.
    got = catalog.stub.GetCredential(pb.GetCredentialRequest(name=name)).credential
    listed = catalog.stub.ListCredentials(pb.ListCredentialsRequest(page_size=1000)).credentials
    for message in (created, got, *[c for c in listed if c.name == name]):
        assert message.password == "" and message.encrypted_password == ""
        assert password not in str(message)

    # The control database holds a JWE for the current key, and nothing in clear.
    row = _stored_row(catalog, name)
    assert password not in json.dumps([str(value) for value in row])
    assert row.key_id == catalog.keys.current_key_id()
    header = json.loads(base64.urlsafe_b64decode(row.encrypted_password.split(".")[0] + "=="))
    assert header == {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": row.key_id}
    # ...that the private key (which only the executor and results service hold) opens, and
    # which seals the allow-list with the password.
    assert open_credential(row.encrypted_password, catalog.keys) == SealedCredential(
        password, ("db1.example.com",)
    )

    database = make_url(catalog.control_db_url).database
    assert database is not None
    for path in (Path(database), Path(database + "-wal")):
        if path.exists():
            assert password.encode() not in path.read_bytes()

    # The internal RPC hands out the ciphertext, not the password.
    secret = catalog.internal.GetCredentialSecret(internal_pb.GetCredentialSecretRequest(name=name))
    assert secret.username == "app"
    assert secret.encrypted_password == row.encrypted_password
    assert list(secret.allowed_servers) == ["db1.example.com"]
    catalog.fails(
        Code.NOT_FOUND,
        catalog.internal.GetCredentialSecret,
        internal_pb.GetCredentialSecretRequest(name=catalog.unique("none")),
    )


def test_client_jwe_accepted_as_is(catalog: Any) -> None:
    key = _encryption_key(catalog)
    token = _sealed_jwe("client-side-pw", ["db1"], key.public_key_pem, kid=key.key_id)
    name = catalog.unique("cred")
    created = catalog.stub.CreateCredential(
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=name, username="app", encrypted_password=token, allowed_servers=["db1"]
            )
        )
    ).credential
    assert created.encrypted_password == "" and created.key_id == key.key_id
    row = _stored_row(catalog, name)
    assert row.encrypted_password == token
    assert _opened(catalog, name) == SealedCredential("client-side-pw", ("db1",))

    # Rotation with a JWE through UpdateCredential, sealing the list it keeps.
    new_token = _sealed_jwe("rotated-pw", ["db1"], key.public_key_pem, kid=key.key_id)
    catalog.stub.UpdateCredential(
        pb.UpdateCredentialRequest(credential=r.Credential(name=name, encrypted_password=new_token))
    )
    assert _opened(catalog, name) == SealedCredential("rotated-pw", ("db1",))


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda key: "not-a-jwe", id="not-compact"),
        pytest.param(lambda key: "a.b.c.d.e", id="garbage-parts"),
        pytest.param(
            lambda key: _jwe_with_joserfc("pw", key.public_key_pem, kid="fj-0000000000000000"),
            id="unknown-kid",
        ),
        pytest.param(
            lambda key: _jwe_with_joserfc("pw", key.public_key_pem, kid=key.key_id, alg="RSA-OAEP"),
            id="wrong-alg",
        ),
    ],
)
def test_bad_client_jwe_refused(catalog: Any, make_token: Any) -> None:
    token = make_token(_encryption_key(catalog))
    problems = catalog.invalid(
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=catalog.unique("cred"), username="app", encrypted_password=token
            )
        ),
    )
    assert set(problems) == {"credential.encrypted_password"}
    assert token not in problems["credential.encrypted_password"]


def test_errors_never_echo_a_password(catalog: Any) -> None:
    password = f"pw-{uuid.uuid4().hex}"
    error = catalog.fails(
        Code.INVALID_ARGUMENT,
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=password + " !", username="", password=password, encrypted_password="x"
            )
        ),
    )
    assert password not in error.details()
    assert password not in json.dumps(catalog.violations(error))


def test_reflection_lists_the_services(catalog: Any) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(catalog.channel)
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
    )
    names = {service.name for reply in replies for service in reply.list_services_response.service}
    assert "fleetjobs.v1.CatalogService" in names
    assert "grpc.health.v1.Health" in names


def test_catalog_waits_for_the_key_pair(keyless_catalog: tuple[Any, Path]) -> None:
    stub, keys_dir = keyless_catalog
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetEncryptionKey(pb.GetEncryptionKeyRequest(), timeout=10)
    assert caught.value.code() == Code.UNAVAILABLE
    # Reads and plaintext-free writes work meanwhile.
    stub.ListCredentials(pb.ListCredentialsRequest(), timeout=10)
    # Once the key pair exists (made by another process), it is used at once.
    keys = KeyStore.ensure(keys_dir)
    key = stub.GetEncryptionKey(pb.GetEncryptionKeyRequest(), timeout=10).encryption_key
    assert key.key_id == keys.current_key_id()


def test_rotation_is_seen_without_restart(catalog: Any, tmp_path: Path) -> None:
    old = _encryption_key(catalog)
    old_token = _sealed_jwe("old-pw", [], old.public_key_pem, kid=old.key_id)
    new = catalog.keys.rotate()
    assert _encryption_key(catalog).key_id == new.key_id
    # A JWE made for the previous key is still accepted: that key still decrypts.
    name = catalog.unique("cred")
    created = catalog.stub.CreateCredential(
        pb.CreateCredentialRequest(
            credential=r.Credential(name=name, username="u", encrypted_password=old_token)
        )
    ).credential
    assert created.key_id == old.key_id
    plain = catalog.stub.CreateCredential(
        pb.CreateCredentialRequest(
            credential=r.Credential(name=catalog.unique("cred"), username="u", password="p")
        )
    ).credential
    assert plain.key_id == new.key_id


def _create(catalog: Any, allowed: list[str], password: str = "first-pw") -> str:
    name: str = catalog.unique("cred")
    catalog.stub.CreateCredential(
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=name, username="app", password=password, allowed_servers=allowed
            )
        )
    )
    return name


def _update(catalog: Any, credential: r.Credential, paths: list[str] | None = None) -> Any:
    request = pb.UpdateCredentialRequest(credential=credential)
    if paths is not None:
        request.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=paths))
    return request


def test_the_allow_list_changes_only_with_the_password(catalog: Any) -> None:
    name = _create(catalog, ["db1.example.com"])
    for request in (
        _update(catalog, r.Credential(name=name, allowed_servers=["*"])),
        _update(catalog, r.Credential(name=name, allowed_servers=["db1.example.com", "evil"])),
        _update(catalog, r.Credential(name=name), ["allowed_servers"]),
        _update(catalog, r.Credential(name=name, username="u2", allowed_servers=["*"])),
    ):
        error = catalog.fails(Code.FAILED_PRECONDITION, catalog.stub.UpdateCredential, request)
        assert "re-enter the password to change where it may go" in error.details()
    assert list(_stored_row(catalog, name).allowed_servers) == ["db1.example.com"]
    assert _stored_row(catalog, name).username == "app"

    # The same entries are no change.
    catalog.stub.UpdateCredential(
        _update(catalog, r.Credential(name=name, allowed_servers=["db1.example.com"]))
    )

    # A new password alone is sealed with the stored list...
    catalog.stub.UpdateCredential(_update(catalog, r.Credential(name=name, password="second-pw")))
    assert _opened(catalog, name) == SealedCredential("second-pw", ("db1.example.com",))

    # ...and with a new list, with that list.
    updated = catalog.stub.UpdateCredential(
        _update(
            catalog,
            r.Credential(name=name, password="third-pw", allowed_servers=["db2:*", "db3"]),
        )
    ).credential
    assert list(updated.allowed_servers) == ["db2:*", "db3"]
    assert _opened(catalog, name) == SealedCredential("third-pw", ("db2:*", "db3"))
    cleared = catalog.stub.UpdateCredential(
        _update(
            catalog, r.Credential(name=name, password="fourth-pw"), ["password", "allowed_servers"]
        )
    ).credential
    assert list(cleared.allowed_servers) == []
    assert _opened(catalog, name) == SealedCredential("fourth-pw", ())


@pytest.mark.parametrize("entry", ["*.com", "*.co.uk", "db-*.co.uk:5432", "*.github.io"])
def test_globs_spanning_a_public_suffix_are_refused(catalog: Any, entry: str) -> None:
    problems = catalog.invalid(
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=catalog.unique("cred"),
                username="app",
                password="pw",
                allowed_servers=["db1.example.com", entry],
            )
        ),
    )
    assert set(problems) == {"credential.allowed_servers[1]"}
    assert "public suffix" in problems["credential.allowed_servers[1]"]


def test_at_most_256_allowed_servers(catalog: Any) -> None:
    servers = [f"db{i}.example.com" for i in range(257)]
    problems = catalog.invalid(
        catalog.stub.CreateCredential,
        pb.CreateCredentialRequest(
            credential=r.Credential(
                name=catalog.unique("cred"), username="app", password="pw", allowed_servers=servers
            )
        ),
    )
    assert set(problems) == {"credential.allowed_servers"}
    assert "at most 256" in problems["credential.allowed_servers"]
    name = _create(catalog, servers[:256])
    problems = catalog.invalid(
        catalog.stub.UpdateCredential,
        _update(catalog, r.Credential(name=name, password="pw2", allowed_servers=servers)),
    )
    assert set(problems) == {"credential.allowed_servers"}
