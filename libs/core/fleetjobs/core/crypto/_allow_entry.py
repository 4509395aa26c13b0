"""Whether an allow-list entry, or a whole list, is well formed (docs/credentials.md).

The grammar is described in ``_allow_list``, which matches entries against servers; this
module only says what is wrong with an entry, for the catalog's field violations, and splits an
entry into its host and port for the matcher.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fleetjobs.core.crypto._public_suffix import glob_public_suffix

ANY_SERVER = "*"
ANY_PORT = "*"
# Bounds what one credential makes every connection check walk; far above real fleets, which
# name their servers by globs.
MAX_ALLOWED_SERVERS = 256

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
# A last label that inet_aton would take as a number: such a "name" is really an address.
NUMERIC_LABEL_RE = re.compile(r"[0-9]+|0x[0-9a-f]*")
_GLOB_LABEL_RE = re.compile(r"[a-z0-9_*-]+")
# One spelling per port: no sign, no leading zero.
_PORT_RE = re.compile(r"[1-9][0-9]{0,4}")
_MAX_PORT = 65535
# An IPv6 zone: an interface name (eth0, en0.100) or index, as operating systems spell them.
_SCOPE_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def allowed_servers_problems(entries: Sequence[str]) -> list[tuple[int | None, str]]:
    """What is wrong with a whole allow-list: (index, why) per bad entry, (None, why) for the
    list itself (too long). A repeated entry is refused, so a list has one spelling."""
    if len(entries) > MAX_ALLOWED_SERVERS:
        return [(None, f"must have at most {MAX_ALLOWED_SERVERS} entries, not {len(entries)}")]
    problems: list[tuple[int | None, str]] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        why = validate_allowed_server_entry(entry)
        if why is None and entry in first_index:
            why = f"allowed server {entry!r} repeats entry {first_index[entry]}"
        if why is not None:
            problems.append((index, why))
        first_index.setdefault(entry, index)
    return problems


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
            f"allowed server {shown} must be a host name, IP address or glob, optionally with "
            "':port' or ':*': URLs and CIDR ranges ('/') are not supported"
        )
    if entry == ANY_SERVER:
        return None
    split = split_port(entry)
    if isinstance(split, Problem):
        return f"allowed server {shown} {split.why}"
    host, port = split
    if port is not None and port != ANY_PORT and parse_port(port) is None:
        return f"allowed server {shown} has port {port!r}: give 1 to {_MAX_PORT}, or '*'"
    if host == ANY_SERVER:
        return f"allowed server {shown} names every host: write '*' alone to allow every server"
    why = _host_problem(host)
    return None if why is None else f"allowed server {shown} {why}"


@dataclass(frozen=True, slots=True)
class Problem:
    why: str


def split_port(entry: str) -> tuple[str, str | None] | Problem:
    """(host, port text or None) of an entry; an IPv6 address takes a port in brackets only."""
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0:
            return Problem("opens '[' without closing it")
        host, rest = entry[: close + 1], entry[close + 1 :]
        if parse_ip(host) is None:
            return Problem("has brackets, which hold an IPv6 address only")
        if not rest:
            return host, None
        if not rest.startswith(":") or len(rest) == 1:
            return Problem("must be [address] or [address]:port after the IPv6 address")
        return host, rest[1:]
    if parse_ip(entry) is not None:
        return entry, None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, port
    if ":" in entry:
        return Problem(
            "is not a valid IPv6 address; an IPv6 address with a port is written "
            "[address]:port, e.g. [::1]:5432"
        )
    return entry, None


def _host_problem(host: str) -> str | None:
    """Why the host part of an entry is invalid, or None."""
    if parse_ip(host) is not None:
        return None
    if not host.isascii():
        return "must be ASCII: write internationalised names as xn--"
    name = host.lower().removesuffix(".")
    if len(name) > MAX_NAME_LENGTH:
        return f"is longer than {MAX_NAME_LENGTH} characters"
    labels = name.split(".")
    if any(not label for label in labels):
        return "has an empty label (a leading dot or two dots in a row)"
    if any(_GLOB_LABEL_RE.fullmatch(label) is None for label in labels):
        return "may contain only letters, digits, '-', '_', '.' and '*' (and ':port')"
    if any(len(label) > MAX_LABEL_LENGTH for label in labels):
        return f"has a label longer than {MAX_LABEL_LENGTH} characters"
    if "**" in name:
        return "has '**': one '*' already spans several labels"
    if "*" in labels[-1]:
        return (
            "has '*' in its last label, which would match names in any domain; "
            "use '*' alone to allow every server"
        )
    if NUMERIC_LABEL_RE.fullmatch(labels[-1]):
        return (
            "looks like an IP address but is not one: "
            "write the full dotted-quad or IPv6 form, without wildcards"
        )
    if "*" in name:
        suffix = glob_public_suffix(name)
        if suffix is not None:
            return (
                f"spans the public suffix {suffix!r}, under which anyone can register a "
                "name: list the servers, or a glob under a domain you control"
            )
    return None


def parse_port(text: str) -> int | None:
    if _PORT_RE.fullmatch(text) is None or int(text) > _MAX_PORT:
        return None
    return int(text)


def parse_ip(text: str) -> IPAddress | None:
    """An IP literal (IPv6 optionally in brackets), or None.

    A scope (``fe80::1%eth0``) must look like an interface name or number: Python accepts
    almost anything after ``%``, and a driver that reads ``,`` as a list of hosts would
    connect to whatever follows it. A scoped IPv4-mapped address is no address at all: its
    IPv4 form would drop the scope, and with it everything smuggled there.
    """
    bracketed = text.startswith("[") and text.endswith("]")
    bare = text[1:-1] if bracketed else text
    _, percent, scope = bare.partition("%")
    if percent and _SCOPE_RE.fullmatch(scope) is None:
        return None
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        # The same host reached over a dual-stack socket; compare it as the IPv4 it is.
        mapped = address.ipv4_mapped
        if mapped is not None and percent:
            return None
        return mapped if mapped is not None else address
    # Brackets belong to IPv6 only (RFC 3986); "[10.0.0.1]" is no address.
    return None if bracketed else address
