"""Servers an attacker would run: they speak just enough PostgreSQL or MySQL to ask a client
for its password in clear text, and record every byte a client sent them.

A test points a smuggled option (psqlODBC's `pqopt={hostaddr=…}`, MariaDB Connector/ODBC's
`SOCKET=…`) at one and asserts the password never arrived: proof that the allow-list held,
stronger than "the connector raised" (it could have raised after sending).

Order of effects per accepted connection:

- PostgreSQL: SSL and GSS encryption requests are declined ('N'); the startup packet is read;
  AuthenticationCleartextPassword ('R', code 3) is sent; the client's PasswordMessage ('p') is
  read and recorded; a FATAL error ends the session.
- MySQL: a protocol-10 handshake without TLS is sent; the handshake response is read; an
  AuthSwitchRequest to `mysql_clear_password` follows; the client's answer (the password and
  a NUL) is read and recorded; an error packet ends the session.

Everything a client sent is kept, so `received(password)` is also true when a client put the
password anywhere else in what it sent.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import tempfile
import threading
from typing import Self

from fleetjobs.testing._servers import absent

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102
_IO_TIMEOUT_SECONDS = 5.0


class _Trap:
    """Accepts connections on a TCP port of `host` (and, for MySQL, on a Unix socket) and
    hands each to `_converse` on its own thread."""

    def __init__(self, host: str = "127.0.0.2", *, unix_socket: bool = False) -> None:
        self.host = host
        self.accepted = 0
        self._received: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listeners: list[socket.socket] = []
        tcp = socket.socket()
        try:
            tcp.bind((host, 0))
        except OSError as error:
            tcp.close()
            absent(f"cannot listen on {host}: {error}")
        self.port = int(tcp.getsockname()[1])
        self._listeners.append(tcp)
        self.socket_path = ""
        self._socket_dir: tempfile.TemporaryDirectory[str] | None = None
        if unix_socket:
            self._socket_dir = tempfile.TemporaryDirectory(prefix="fjtrap")
            self.socket_path = os.path.join(self._socket_dir.name, "trap.sock")
            unix = socket.socket(socket.AF_UNIX)
            unix.bind(self.socket_path)
            self._listeners.append(unix)
        self._threads: list[threading.Thread] = []
        for listener in self._listeners:
            listener.listen(16)
            listener.settimeout(0.2)
            thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def received(self, secret: str) -> bool:
        """Whether `secret` (UTF-8) appears in anything any client sent."""
        needle = secret.encode()
        with self._lock:
            return any(needle in chunk for chunk in self._received)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        for listener in self._listeners:
            listener.close()
        if self._socket_dir is not None:
            self._socket_dir.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _serve(self, listener: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.accepted += 1
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        connection.settimeout(_IO_TIMEOUT_SECONDS)
        with contextlib.suppress(OSError, ValueError), connection:
            self._converse(connection)

    def _converse(self, connection: socket.socket) -> None:
        raise NotImplementedError

    def _read(self, connection: socket.socket, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = connection.recv(size - len(data))
            if not chunk:
                raise ValueError("the client closed the connection")
            data += chunk
        with self._lock:
            self._received.append(data)
        return data


class PostgresPasswordTrap(_Trap):
    """A fake PostgreSQL server that asks for a clear-text password."""

    def _converse(self, connection: socket.socket) -> None:
        while True:
            (length,) = struct.unpack("!I", self._read(connection, 4))
            body = self._read(connection, length - 4)
            (code,) = struct.unpack("!I", body[:4])
            if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                connection.sendall(b"N")
                continue
            if code == _CANCEL_REQUEST:
                return
            break
        connection.sendall(b"R" + struct.pack("!II", 8, 3))
        kind = self._read(connection, 1)
        (length,) = struct.unpack("!I", self._read(connection, 4))
        self._read(connection, length - 4)
        if kind == b"p":
            fields = b"SFATAL\x00C28P01\x00Mpassword authentication failed\x00\x00"
            connection.sendall(b"E" + struct.pack("!I", len(fields) + 4) + fields)


class MysqlPasswordTrap(_Trap):
    """A fake MySQL server that switches the client to `mysql_clear_password`; it listens on
    TCP and on a Unix socket (`socket_path`)."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        super().__init__(host, unix_socket=True)

    def _converse(self, connection: socket.socket) -> None:
        capabilities = (
            0x00000001  # LONG_PASSWORD
            | 0x00000004  # LONG_FLAG
            | 0x00000008  # CONNECT_WITH_DB
            | 0x00000200  # PROTOCOL_41
            | 0x00002000  # TRANSACTIONS
            | 0x00008000  # SECURE_CONNECTION
            | 0x00010000  # MULTI_STATEMENTS
            | 0x00020000  # MULTI_RESULTS
            | 0x00080000  # PLUGIN_AUTH
        )
        salt = b"abcdefghijklmnopqrst"
        handshake = (
            b"\x0a5.7.99-trap\x00"
            + struct.pack("<I", 7)
            + salt[:8]
            + b"\x00"
            + struct.pack("<H", capabilities & 0xFFFF)
            + b"\x21"  # utf8_general_ci
            + struct.pack("<H", 2)  # SERVER_STATUS_AUTOCOMMIT
            + struct.pack("<H", capabilities >> 16)
            + bytes([len(salt) + 1])
            + b"\x00" * 10
            + salt[8:]
            + b"\x00"
            + b"mysql_clear_password\x00"
        )
        self._send_packet(connection, 0, handshake)
        sequence, _ = self._read_packet(connection)
        switch = b"\xfemysql_clear_password\x00" + salt + b"\x00"
        self._send_packet(connection, sequence + 1, switch)
        sequence, _ = self._read_packet(connection)
        error = b"\xff" + struct.pack("<H", 1045) + b"#28000Access denied"
        self._send_packet(connection, sequence + 1, error)

    def _send_packet(self, connection: socket.socket, sequence: int, payload: bytes) -> None:
        header = struct.pack("<I", len(payload))[:3] + bytes([sequence & 0xFF])
        connection.sendall(header + payload)

    def _read_packet(self, connection: socket.socket) -> tuple[int, bytes]:
        header = self._read(connection, 4)
        length = int.from_bytes(header[:3], "little")
        return header[3], self._read(connection, length)
