"""Which servers, on which ports, a credential may be sent to.

Every connection made with a credential (target, shard map, server enumeration, result
destination) is checked here before a byte is sent, so that someone able to add a target cannot
point a job at a server they control and harvest the password.

Rules for an entry (docs/credentials.md, "Allowed servers"):

- a host name (``db1.example.com``), matched case-insensitively; one trailing dot is ignored
  on both sides;
- an IP literal (``10.0.0.5``, ``::1``, ``[fe80::1%eth0]``), compared as an address, so
  ``0:0::1`` equals ``::1`` and ``::ffff:10.0.0.5`` equals ``10.0.0.5``;
- a glob whose ``*`` stands for one or more characters and may span labels:
  ``*.db.example.com`` matches ``a.db.example.com`` and ``a.b.db.example.com`` but not
  ``db.example.com``. The whole name must match, so ``*.example.com`` never matches
  ``example.com.evil.org``. ``*`` may not appear in the last label (``db.example.*`` would
  match any domain), a glob may not span a public suffix (``*.com``, ``*.co.uk``,
  ``*.github.io``: see ``_public_suffix``), and globs match host names only, never IP
  literals: write addresses out;
- each of those alone allows the engine's default port only (PostgreSQL 5432, MySQL 3306,
  SQL Server 1433; ODBC has none, so a bare entry never allows an ODBC target);
  ``host:port`` allows that port instead and ``host:*`` every port. An IPv6 address takes a
  port in brackets only (``[::1]:5432``), since ``::1:5432`` is itself an address;
- ``*`` alone: every server on every port. It switches the protection off for that credential
  and exists for local and test set-ups.

Nothing is resolved: the check is on the name and port the connector will be given. An empty
list allows nothing. An entry that fails ``validate_allowed_server_entry`` never matches
anything, and a server name that is neither an IP literal nor a valid host name is matched only
by ``*``, because a resolver could read it differently from us (``127.1`` and ``0x7f000001``
are addresses to ``inet_aton``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fleetjobs.core.crypto._allow_entry import (
    ANY_PORT,
    ANY_SERVER,
    MAX_LABEL_LENGTH,
    MAX_NAME_LENGTH,
    NUMERIC_LABEL_RE,
    IPAddress,
    Problem,
    parse_ip,
    split_port,
    validate_allowed_server_entry,
)

# Letters, digits, hyphen, and underscore (found in real internal names, e.g. Windows hosts).
_LABEL_RE = re.compile(r"[a-z0-9_-]+")
_GLOB_STAR = "[a-z0-9_.-]+"
_SHOWN_ENTRIES = 20


class ServerNotAllowedError(Exception):
    """A credential was about to be sent to a server (or port) its allow-list does not name."""

    def __init__(
        self,
        credential_name: str,
        server_name: str,
        allowed: Sequence[str],
        *,
        port: int = 0,
        hint: str = "",
    ) -> None:
        self.credential_name = credential_name
        self.server_name = server_name
        self.port = port
        self.allowed = tuple(allowed)
        shown = ", ".join(self.allowed[:_SHOWN_ENTRIES]) or "none"
        if len(self.allowed) > _SHOWN_ENTRIES:
            shown += f", and {len(self.allowed) - _SHOWN_ENTRIES} more"
        where = f" port {port}" if port else ""
        super().__init__(
            f"credential {credential_name!r} may not be sent to server {server_name!r}{where} "
            f"(allowed: {shown}){hint}"
        )


def server_allowed(
    server_name: str, allowed: Sequence[str], *, port: int, default_port: int
) -> bool:
    """Whether a credential with allow-list ``allowed`` may be sent to ``server_name:port``.

    ``port`` is the target's, 0 when it gives none (the engine's default then applies);
    ``default_port`` is the engine's default, 0 when it has none we know (ODBC).
    """
    if not server_name:
        return False
    target = _parse_target(server_name)
    effective = port or default_port
    return any(_compile_entry(entry).matches(target, effective, default_port) for entry in allowed)


def check_server_allowed(
    server_name: str,
    allowed: Sequence[str],
    *,
    port: int,
    default_port: int,
    credential_name: str,
) -> None:
    """Raise ServerNotAllowedError unless ``server_allowed(...)``. When an entry names the host
    but not the port, the message says how to widen it."""
    if server_allowed(server_name, allowed, port=port, default_port=default_port):
        return
    effective = port or default_port
    hint = ""
    if server_name:
        target = _parse_target(server_name)
        if any(_compile_entry(entry).host_matches(target) for entry in allowed):
            hint = _port_hint(server_name, effective, default_port)
    raise ServerNotAllowedError(credential_name, server_name, allowed, port=effective, hint=hint)


def server_name_problem(server_name: str) -> str | None:
    """Why ``server_name`` cannot name a server to connect to, or None when it can.

    A server name is one IP literal (IPv6 optionally in brackets) or one host name of letters,
    digits, '-', '_' and dots, as the allow-list reads them. Anything else could mean more to
    a driver than to this check: libpq and MariaDB Connector/ODBC read ``a,b`` as two hosts
    and try the second when the first fails. The catalog refuses such names and the services
    that connect refuse them again (clients/_credentials.py)."""
    if not server_name:
        return "is required"
    if _parse_target(server_name) != _Target(ip=None, host=None):
        return None
    return (
        "must be one host name (letters, digits, '-', '_', '.'; not ending in a number) or "
        "one IP address, with no port, list, scope other than an interface name, or spaces"
    )


def _port_hint(server_name: str, port: int, default_port: int) -> str:
    host = f"[{server_name.strip('[]')}]" if ":" in server_name else server_name
    if not default_port:
        bare = "a bare entry allows no port of this engine, which has no default port"
    else:
        bare = f"a bare entry allows the default port {default_port} only"
    wider = f"{host}:{port}' or '{host}:*" if port else f"{host}:*"
    return f"; {bare}: allow '{wider}'"


@dataclass(frozen=True, slots=True)
class _Target:
    ip: IPAddress | None
    host: str | None  # normalised; None when the name is neither an IP nor a valid host name


@dataclass(frozen=True, slots=True)
class _Rule:
    any_server: bool = False
    ip: IPAddress | None = None
    host: str | None = None
    glob: re.Pattern[str] | None = None
    # None: the engine's default port only; 0: every port; else that port.
    port: int | None = None

    def host_matches(self, target: _Target) -> bool:
        if self.any_server:
            return True
        if self.ip is not None:
            return target.ip == self.ip
        if target.host is None:
            return False
        if self.glob is not None:
            return self.glob.fullmatch(target.host) is not None
        return self.host is not None and target.host == self.host

    def matches(self, target: _Target, port: int, default_port: int) -> bool:
        """``port`` is the one the connector will use, 0 when only its driver knows it."""
        if not self.host_matches(target):
            return False
        if self.any_server or self.port == 0:
            return True
        if self.port is None:
            return port != 0 and port == default_port
        return port == self.port


_NEVER = _Rule()


@functools.lru_cache(maxsize=4096)
def _compile_entry(entry: str) -> _Rule:
    # Cached: the same few allow-lists are checked for every database of every execution.
    if validate_allowed_server_entry(entry) is not None:
        return _NEVER
    if entry == ANY_SERVER:
        return _Rule(any_server=True)
    split = split_port(entry)
    assert not isinstance(split, Problem)  # validated above
    host, port_text = split
    port = None if port_text is None else 0 if port_text == ANY_PORT else int(port_text)
    ip = parse_ip(host)
    if ip is not None:
        return _Rule(ip=ip, port=port)
    name = host.lower().removesuffix(".")
    if "*" in name:
        pattern = _GLOB_STAR.join(re.escape(piece) for piece in name.split("*"))
        return _Rule(glob=re.compile(pattern), port=port)
    return _Rule(host=name, port=port)


@functools.lru_cache(maxsize=4096)
def _parse_target(server_name: str) -> _Target:
    # Cached: every attempt checks its server's name, then the allow-list, against it.
    ip = parse_ip(server_name)
    if ip is not None:
        return _Target(ip=ip, host=None)
    return _Target(ip=None, host=_normalise_host(server_name))


def _normalise_host(name: str) -> str | None:
    if not name.isascii():
        return None
    host = name.lower().removesuffix(".")
    if not host or len(host) > MAX_NAME_LENGTH:
        return None
    labels = host.split(".")
    for label in labels:
        if len(label) > MAX_LABEL_LENGTH or _LABEL_RE.fullmatch(label) is None:
            return None
    if NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        return None
    return host
