"""Which servers a credential may be sent to.

Every connection made with a credential (target, shard map, server enumeration, result
destination) is checked here before a byte is sent, so that someone able to add a target cannot
point a job at a server they control and harvest the password.

Rules for an entry (API.md, "Allowed servers"):

- a host name (``db1.example.com``), matched case-insensitively; one trailing dot is ignored
  on both sides;
- an IP literal (``10.0.0.5``, ``::1``, ``[fe80::1%eth0]``), compared as an address, so
  ``0:0::1`` equals ``::1`` and ``::ffff:10.0.0.5`` equals ``10.0.0.5``;
- a glob whose ``*`` stands for one or more characters and may span labels:
  ``*.db.example.com`` matches ``a.db.example.com`` and ``a.b.db.example.com`` but not
  ``db.example.com``. The whole name must match, so ``*.example.com`` never matches
  ``example.com.evil.org``. ``*`` may not appear in the last label (``db.example.*`` would
  match any domain) and globs match host names only, never IP literals: write addresses out;
- ``*`` alone: every server. It switches the protection off for that credential and exists
  for local and test set-ups.

Nothing is resolved: the check is on the name the connector will be given. An empty list allows
nothing. An entry that fails ``validate_allowed_server_entry`` never matches anything, and a
server name that is neither an IP literal nor a valid host name is matched only by ``*``,
because a resolver could read it differently from us (``127.1`` and ``0x7f000001`` are
addresses to ``inet_aton``).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

ANY_SERVER = "*"

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_MAX_NAME_LENGTH = 253
_MAX_LABEL_LENGTH = 63
# Letters, digits, hyphen, and underscore (found in real internal names, e.g. Windows hosts).
_LABEL_RE = re.compile(r"[a-z0-9_-]+")
_GLOB_LABEL_RE = re.compile(r"[a-z0-9_*-]+")
# A last label that inet_aton would take as a number: such a "name" is really an address.
_NUMERIC_LABEL_RE = re.compile(r"[0-9]+|0x[0-9a-f]*")
_GLOB_STAR = "[a-z0-9_.-]+"
_SHOWN_ENTRIES = 20


class ServerNotAllowedError(Exception):
    """A credential was about to be sent to a server its allow-list does not name."""

    def __init__(self, credential_name: str, server_name: str, allowed: Sequence[str]) -> None:
        self.credential_name = credential_name
        self.server_name = server_name
        self.allowed = tuple(allowed)
        shown = ", ".join(self.allowed[:_SHOWN_ENTRIES]) or "none"
        if len(self.allowed) > _SHOWN_ENTRIES:
            shown += f", and {len(self.allowed) - _SHOWN_ENTRIES} more"
        super().__init__(
            f"credential {credential_name!r} may not be sent to server {server_name!r} "
            f"(allowed: {shown})"
        )


def server_allowed(server_name: str, allowed: Sequence[str]) -> bool:
    """Whether a credential with allow-list ``allowed`` may be sent to ``server_name``."""
    if not server_name:
        return False
    target = _parse_target(server_name)
    return any(_compile_entry(entry).matches(target) for entry in allowed)


def check_server_allowed(server_name: str, allowed: Sequence[str], *, credential_name: str) -> None:
    """Raise ServerNotAllowedError unless ``server_allowed(server_name, allowed)``."""
    if not server_allowed(server_name, allowed):
        raise ServerNotAllowedError(credential_name, server_name, allowed)


def validate_allowed_server_entry(entry: str) -> str | None:
    """Why ``entry`` is not a valid allow-list entry, or None when it is.

    The catalog turns a message into an INVALID_ARGUMENT field violation; it quotes the entry
    (which is no secret) so it reads on its own.
    """
    if not isinstance(entry, str) or not entry:
        return "an allowed server must not be empty"
    shown = repr(entry) if len(entry) <= 80 else repr(entry[:77] + "...")
    if any(char.isspace() for char in entry):
        return f"allowed server {shown} must not contain whitespace"
    if "/" in entry:
        return (
            f"allowed server {shown} must be a host name, IP address or glob: "
            "URLs and CIDR ranges ('/') are not supported"
        )
    if entry == ANY_SERVER or _parse_ip(entry) is not None:
        return None
    if ":" in entry or entry.startswith("["):
        return (
            f"allowed server {shown} is not a valid IPv6 address, and ':' appears in no other "
            "entry (give the port on the target, not here)"
        )
    if not entry.isascii():
        return f"allowed server {shown} must be ASCII: write internationalised names as xn--"
    name = entry.lower().removesuffix(".")
    if len(name) > _MAX_NAME_LENGTH:
        return f"allowed server {shown} is longer than {_MAX_NAME_LENGTH} characters"
    labels = name.split(".")
    if any(not label for label in labels):
        return f"allowed server {shown} has an empty label (a leading dot or two dots in a row)"
    if any(_GLOB_LABEL_RE.fullmatch(label) is None for label in labels):
        return f"allowed server {shown} may contain only letters, digits, '-', '_', '.' and '*'"
    if any(len(label) > _MAX_LABEL_LENGTH for label in labels):
        return f"allowed server {shown} has a label longer than {_MAX_LABEL_LENGTH} characters"
    if "**" in name:
        return f"allowed server {shown} has '**': one '*' already spans several labels"
    if "*" in labels[-1]:
        return (
            f"allowed server {shown} has '*' in its last label, which would match names in "
            "any domain; use '*' alone to allow every server"
        )
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        return (
            f"allowed server {shown} looks like an IP address but is not one: "
            "write the full dotted-quad or IPv6 form, without wildcards"
        )
    return None


@dataclass(frozen=True, slots=True)
class _Target:
    ip: _IPAddress | None
    host: str | None  # normalised; None when the name is neither an IP nor a valid host name


@dataclass(frozen=True, slots=True)
class _Rule:
    any_server: bool = False
    ip: _IPAddress | None = None
    host: str | None = None
    glob: re.Pattern[str] | None = None

    def matches(self, target: _Target) -> bool:
        if self.any_server:
            return True
        if self.ip is not None:
            return target.ip == self.ip
        if target.host is None:
            return False
        if self.glob is not None:
            return self.glob.fullmatch(target.host) is not None
        return target.host == self.host


_NEVER = _Rule()


@functools.lru_cache(maxsize=4096)
def _compile_entry(entry: str) -> _Rule:
    # Cached: the same few allow-lists are checked for every database of every execution.
    if validate_allowed_server_entry(entry) is not None:
        return _NEVER
    if entry == ANY_SERVER:
        return _Rule(any_server=True)
    ip = _parse_ip(entry)
    if ip is not None:
        return _Rule(ip=ip)
    name = entry.lower().removesuffix(".")
    if "*" in name:
        pattern = _GLOB_STAR.join(re.escape(piece) for piece in name.split("*"))
        return _Rule(glob=re.compile(pattern))
    return _Rule(host=name)


def _parse_target(server_name: str) -> _Target:
    ip = _parse_ip(server_name)
    if ip is not None:
        return _Target(ip=ip, host=None)
    return _Target(ip=None, host=_normalise_host(server_name))


def _parse_ip(text: str) -> _IPAddress | None:
    bracketed = text.startswith("[") and text.endswith("]")
    try:
        address = ipaddress.ip_address(text[1:-1] if bracketed else text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # The same host reached over a dual-stack socket; compare it as the IPv4 it is.
        mapped = address.ipv4_mapped
        return mapped if mapped is not None else address
    # Brackets belong to IPv6 only (RFC 3986); "[10.0.0.1]" is no address.
    return None if bracketed else address


def _normalise_host(name: str) -> str | None:
    if not name.isascii():
        return None
    host = name.lower().removesuffix(".")
    if not host or len(host) > _MAX_NAME_LENGTH:
        return None
    labels = host.split(".")
    for label in labels:
        if len(label) > _MAX_LABEL_LENGTH or _LABEL_RE.fullmatch(label) is None:
            return None
    if _NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        return None
    return host
