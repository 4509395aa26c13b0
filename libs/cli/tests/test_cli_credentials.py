"""Passwords: read from stdin or the environment, sent only as a JWE for the published key
that seals them with the allowed servers (docs/credentials.md), and never printed."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from fleetjobs.cli import ExitCode
from fleetjobs.cli.testing import CliResult, run_cli
from fleetjobs.core.crypto import (
    JWE_ALG,
    JWE_ENC,
    KeyStore,
    SealedCredential,
    inspect_header,
    open_credential,
)
from fleetjobs.v1 import catalog_resources_pb2 as resources
from fleetjobs.v1 import catalog_service_pb2 as catalog
from fleetjobs.v1 import catalog_service_pb2_grpc as catalog_grpc

Serve = Callable[[Any, object], str]
PASSWORD = "s3cr=t pass;word'\"é"
# What the fake catalog holds for every credential: a password-only update seals it.
STORED_SERVERS = ["db1", "db1:6543"]


class KeyCatalog(catalog_grpc.CatalogServiceServicer):
    """Publishes a real public key and records the credential requests it is sent."""

    def __init__(self, keys: KeyStore) -> None:
        self._public = keys.current_public()
        self._lock = threading.Lock()
        self.created: list[catalog.CreateCredentialRequest] = []
        self.updated: list[catalog.UpdateCredentialRequest] = []

    def GetEncryptionKey(self, request: catalog.GetEncryptionKeyRequest, context: Any) -> Any:
        return catalog.GetEncryptionKeyResponse(
            encryption_key=resources.EncryptionKey(
                key_id=self._public.key_id,
                algorithm=JWE_ALG,
                content_encryption=JWE_ENC,
                public_key_pem=self._public.pem,
            )
        )

    def CreateCredential(self, request: catalog.CreateCredentialRequest, context: Any) -> Any:
        with self._lock:
            self.created.append(request)
        given = request.credential
        return catalog.CreateCredentialResponse(
            credential=resources.Credential(
                name=given.name,
                username=given.username,
                allowed_servers=given.allowed_servers,
                key_id=self._public.key_id,
            )
        )

    def GetCredential(self, request: catalog.GetCredentialRequest, context: Any) -> Any:
        return catalog.GetCredentialResponse(
            credential=resources.Credential(name=request.name, allowed_servers=STORED_SERVERS)
        )

    def UpdateCredential(self, request: catalog.UpdateCredentialRequest, context: Any) -> Any:
        with self._lock:
            self.updated.append(request)
        return catalog.UpdateCredentialResponse(
            credential=resources.Credential(name=request.credential.name)
        )


@pytest.fixture
def key_catalog(serve: Serve, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch) -> KeyCatalog:
    servicer = KeyCatalog(keystore)  # type: ignore[abstract]  # see conftest
    address = serve(catalog_grpc.add_CatalogServiceServicer_to_server, servicer)
    monkeypatch.setenv("FLEETJOBS_CATALOG_ADDR", address)
    return servicer


def _assert_never_shown(result: CliResult) -> None:
    for secret in (PASSWORD, PASSWORD.strip()):
        assert secret not in result.stdout
        assert secret not in result.stderr


def _assert_encrypts(token: str, keystore: KeyStore, allowed: list[str]) -> None:
    assert PASSWORD not in token
    header = inspect_header(token, key_ids=[keystore.current_key_id()])
    assert (header["alg"], header["enc"]) == (JWE_ALG, JWE_ENC)
    assert open_credential(token, keystore) == SealedCredential(PASSWORD, tuple(allowed))


def test_create_with_password_stdin_sends_only_a_jwe(
    key_catalog: KeyCatalog, keystore: KeyStore
) -> None:
    result = run_cli(
        "credential", "create", "app", "--username", "app_user", "--password-stdin",
        "--allow", "db1.example.com", "*.db.example.com",
        stdin=PASSWORD + "\nnot this line\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "created credential app\n"
    (request,) = key_catalog.created
    credential = request.credential
    assert credential.password == ""
    assert (credential.name, credential.username) == ("app", "app_user")
    assert list(credential.allowed_servers) == ["db1.example.com", "*.db.example.com"]
    _assert_encrypts(
        credential.encrypted_password, keystore, ["db1.example.com", "*.db.example.com"]
    )
    _assert_never_shown(result)


def test_create_with_password_env_and_json(
    key_catalog: KeyCatalog, keystore: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_DB_PASSWORD", PASSWORD)
    result = run_cli(
        "--json", "credential", "create", "app", "--username", "u",
        "--password-env", "APP_DB_PASSWORD",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert '"name": "app"' in result.stdout
    # No --allow: the credential goes to no network server, and the user is told so.
    assert "no --allow" in result.stderr
    (request,) = key_catalog.created
    _assert_encrypts(request.credential.encrypted_password, keystore, [])
    assert request.credential.password == ""
    _assert_never_shown(result)


def test_a_crlf_line_end_is_not_part_of_the_password(
    key_catalog: KeyCatalog, keystore: KeyStore
) -> None:
    result = run_cli(
        "credential", "create", "app", "--username", "u", "--password-stdin",
        stdin=PASSWORD + "\r\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    _assert_encrypts(key_catalog.created[0].credential.encrypted_password, keystore, [])


@pytest.mark.parametrize(
    ("flags", "stdin", "message"),
    [
        ((), PASSWORD + "\n", "no password given"),
        (("--password-stdin",), "", "standard input is empty"),
        (("--password-env", "FLEETJOBS_TEST_UNSET_VARIABLE"), "", "is not set"),
    ],
)
def test_no_password_is_a_usage_error_and_nothing_is_sent(
    key_catalog: KeyCatalog, flags: tuple[str, ...], stdin: str, message: str
) -> None:
    # Without a source the password is never read from a non-terminal stdin.
    result = run_cli("credential", "create", "app", "--username", "u", *flags, stdin=stdin)
    assert result.exit_code == ExitCode.USAGE
    assert message in result.stderr
    assert key_catalog.created == []


def test_password_sources_exclude_each_other(key_catalog: KeyCatalog) -> None:
    result = run_cli(
        "credential", "create", "app", "--username", "u", "--password-stdin",
        "--password-env", "X",
    )  # fmt: skip
    assert result.exit_code == ExitCode.USAGE
    assert "not allowed with argument" in result.stderr


def test_update_masks_exactly_what_was_given(key_catalog: KeyCatalog, keystore: KeyStore) -> None:
    rotate = run_cli(
        "credential", "update", "app", "--password-stdin", "--allow", "db2", stdin=PASSWORD
    )
    assert rotate.exit_code == 0, rotate.stderr
    _assert_never_shown(rotate)
    rename = run_cli("credential", "update", "app", "--username", "other")
    clear = run_cli(
        "credential", "update", "app", "--clear-allow", "--password-stdin", stdin=PASSWORD
    )
    rotate_only = run_cli("credential", "update", "app", "--password-stdin", stdin=PASSWORD)
    assert (rename.exit_code, clear.exit_code, rotate_only.exit_code) == (0, 0, 0)

    first, second, third, fourth = key_catalog.updated
    assert list(first.update_mask.paths) == ["encrypted_password", "allowed_servers"]
    assert list(first.credential.allowed_servers) == ["db2"]
    assert first.credential.password == ""
    _assert_encrypts(first.credential.encrypted_password, keystore, ["db2"])
    assert list(second.update_mask.paths) == ["username"]
    assert second.credential.username == "other"
    assert second.credential.encrypted_password == ""
    assert list(third.update_mask.paths) == ["encrypted_password", "allowed_servers"]
    assert list(third.credential.allowed_servers) == []
    _assert_encrypts(third.credential.encrypted_password, keystore, [])
    # A new password alone is sealed with the list the catalog holds, and that list is sent
    # with it: stored and sealed stay one list even if someone changed it in between.
    assert list(fourth.update_mask.paths) == ["encrypted_password", "allowed_servers"]
    assert list(fourth.credential.allowed_servers) == STORED_SERVERS
    _assert_encrypts(fourth.credential.encrypted_password, keystore, STORED_SERVERS)


def test_a_server_given_twice_is_sealed_once(key_catalog: KeyCatalog, keystore: KeyStore) -> None:
    result = run_cli(
        "credential",
        "update",
        "app",
        "--password-stdin",
        "--allow",
        "db2",
        "db3",
        "db2",
        stdin=PASSWORD,
    )
    assert result.exit_code == 0, result.stderr
    (update,) = key_catalog.updated
    assert list(update.credential.allowed_servers) == ["db2", "db3"]
    _assert_encrypts(update.credential.encrypted_password, keystore, ["db2", "db3"])


@pytest.mark.parametrize("flags", [("--allow", "db2"), ("--clear-allow",)])
def test_changing_the_allowed_servers_needs_the_password(
    key_catalog: KeyCatalog, flags: tuple[str, ...]
) -> None:
    result = run_cli("credential", "update", "app", *flags)
    assert result.exit_code == ExitCode.USAGE
    assert "re-enter the password to change where it may go" in result.stderr
    assert key_catalog.updated == []


def test_update_without_changes_is_a_usage_error(key_catalog: KeyCatalog) -> None:
    result = run_cli("credential", "update", "app")
    assert result.exit_code == ExitCode.USAGE
    assert "nothing to update" in result.stderr
    assert key_catalog.updated == []
    both = run_cli("credential", "update", "app", "--allow", "x", "--clear-allow")
    assert both.exit_code == ExitCode.USAGE


# Run in the child: make the pseudo-terminal on stdin the controlling terminal (the child is a
# session leader without one, so opening it does that on Linux), then become `fleetjobs`.
_ON_A_TERMINAL = (
    "import os, sys; os.close(os.open(os.ttyname(0), os.O_RDWR)); "
    "os.execv(sys.executable, [sys.executable, '-m', 'fleetjobs.cli', *sys.argv[1:]])"
)


def _converse(argv: list[str], env: dict[str, str], answers: list[tuple[bytes, bytes]]) -> str:
    """Run fleetjobs on a pseudo-terminal, answering each prompt; return all it displayed."""
    controller, terminal = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", _ON_A_TERMINAL, *argv],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        start_new_session=True,
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if answers and shown.endswith(answers[0][0]):
                os.write(controller, answers.pop(0)[1])
            ready, _, _ = select.select([controller], [], [], 0.5)
            if not ready:
                if child.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert child.wait(timeout=30) == 0, shown.decode(errors="replace")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(controller)
    return shown.decode("utf-8", errors="replace")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="controlling-terminal setup")
def test_a_terminal_prompt_never_echoes_the_password(
    key_catalog: KeyCatalog, keystore: KeyStore
) -> None:
    env = {**os.environ}
    typed = PASSWORD.encode("utf-8") + b"\n"
    shown = _converse(
        ["credential", "create", "app", "--username", "u", "--allow", "db1"],
        env,
        [(b"Password: ", typed), (b"Repeat password: ", typed)],
    )
    assert "created credential app" in shown
    assert PASSWORD not in shown
    _assert_encrypts(key_catalog.created[0].credential.encrypted_password, keystore, ["db1"])

    # --password-stdin on a terminal prompts without echo too, rather than reading a line.
    rotated = _converse(
        ["credential", "update", "app", "--password-stdin"], env, [(b"Password: ", typed)]
    )
    assert "updated credential app" in rotated
    assert PASSWORD not in rotated
    _assert_encrypts(key_catalog.updated[0].credential.encrypted_password, keystore, STORED_SERVERS)
