"""Allow-lists: which servers and ports a credential may be sent to, and which entries are
valid (docs/credentials.md)."""

from __future__ import annotations

import re

import pytest

from fleetjobs.core.crypto import (
    MAX_ALLOWED_SERVERS,
    ServerNotAllowedError,
    allowed_servers_problems,
    check_server_allowed,
    server_allowed,
    validate_allowed_server_entry,
)

# The name-matching cases below are about names: a PostgreSQL target on its default port.
PG = {"port": 0, "default_port": 5432}


@pytest.mark.parametrize(
    ("server_name", "allowed"),
    [
        ("db1.example.com", ["db1.example.com"]),
        ("DB1.Example.COM", ["db1.example.com"]),
        ("db1.example.com", ["DB1.EXAMPLE.COM"]),
        ("db1.example.com.", ["db1.example.com"]),
        ("db1.example.com", ["db1.example.com."]),
        ("localhost", ["localhost"]),
        ("sql_server-01", ["SQL_SERVER-01"]),
        ("db1.example.com", ["other.example.com", "db1.example.com"]),
        # globs: one or more characters, across labels, anchored at both ends
        ("a.db.example.com", ["*.db.example.com"]),
        ("A.DB.example.com", ["*.db.example.com"]),
        ("a.b.db.example.com", ["*.db.example.com"]),
        ("db-7.example.com", ["db-*.example.com"]),
        ("tenant1.eu.db.example.com", ["tenant*.db.example.com"]),
        # IP literals compare as addresses
        ("10.0.0.5", ["10.0.0.5"]),
        ("::1", ["::1"]),
        ("0:0::1", ["::1"]),
        ("::1", ["0000:0000:0000:0000:0000:0000:0000:0001"]),
        ("2001:DB8::1", ["2001:db8:0::1"]),
        ("[2001:db8::1]", ["2001:db8::1"]),
        ("2001:db8::1", ["[2001:db8::1]"]),
        ("::ffff:10.0.0.5", ["10.0.0.5"]),
        ("10.0.0.5", ["::ffff:10.0.0.5"]),
        ("fe80::1%eth0", ["fe80::1%eth0"]),
        # bare * means every server
        ("anything.example.org", ["*"]),
        ("10.9.8.7", ["*"]),
        ("::1", ["*"]),
    ],
)
def test_allowed(server_name: str, allowed: list[str]) -> None:
    assert server_allowed(server_name, allowed, **PG)
    check_server_allowed(server_name, allowed, credential_name="c", **PG)


@pytest.mark.parametrize(
    ("server_name", "allowed"),
    [
        ("evil.example.com", ["db1.example.com"]),
        ("db1.example.com", []),
        ("", ["*"]),
        ("db1.example.com.evil.org", ["db1.example.com"]),
        ("xdb1.example.com", ["db1.example.com"]),
        ("db1.example.co", ["db1.example.com"]),
        ("db1.example.com..", ["db1.example.com"]),
        (" db1.example.com", ["db1.example.com"]),
        # globs never match the bare parent, nor a name that merely contains the suffix
        ("db.example.com", ["*.db.example.com"]),
        (".db.example.com", ["*.db.example.com"]),
        ("example.com.evil.org", ["*.example.com"]),
        ("a.example.com.evil.org", ["*.example.com"]),
        ("a.db.example.com.evil.org", ["*.db.example.com"]),
        ("adb.example.com", ["*.db.example.com"]),
        ("db-.example.com.evil", ["db-*.example.com"]),
        # no DNS: a name is never its address, an address never a glob's name
        ("localhost", ["127.0.0.1"]),
        ("127.0.0.1", ["localhost"]),
        ("10.0.0.5", ["*.0.0.5"]),
        # addresses that a resolver reads differently from a strict parser
        ("127.1", ["127.0.0.1"]),
        ("0x7f000001", ["127.0.0.1"]),
        ("2130706433", ["127.0.0.1"]),
        ("010.0.0.5", ["10.0.0.5"]),
        ("10.0.0.5.", ["10.0.0.5"]),
        ("::2", ["::1"]),
        ("fe80::1%eth1", ["fe80::1%eth0"]),
        ("[10.0.0.5]", ["10.0.0.5"]),
        # invalid entries match nothing, even when they contain the name
        ("db1.example.com", ["db1.example.com:05432"]),
        ("db1.example.com", ["*:5432"]),
        ("a.example.com", ["*.com"]),
        ("db1.example.com", ["postgresql://db1.example.com"]),
        ("db1.example.com", ["db1.example.*"]),
        ("db1.example.com", [" db1.example.com"]),
        ("db1.example.com", [""]),
        # non-ASCII look-alikes (the Kelvin sign lower-cases to "k")
        ("\u212aey.example.com", ["key.example.com"]),
        ("db1.example.com", ["db1.ex\u0430mple.com"]),
    ],
)
def test_not_allowed(server_name: str, allowed: list[str]) -> None:
    assert not server_allowed(server_name, allowed, **PG)
    with pytest.raises(ServerNotAllowedError):
        check_server_allowed(server_name, allowed, credential_name="c", **PG)


def test_refusal_names_the_credential_the_server_and_the_list() -> None:
    with pytest.raises(ServerNotAllowedError) as caught:
        check_server_allowed("evil.example.com", ["a", "b"], credential_name="x", **PG)
    assert str(caught.value) == (
        "credential 'x' may not be sent to server 'evil.example.com' port 5432 (allowed: a, b)"
    )
    assert caught.value.credential_name == "x"
    assert caught.value.server_name == "evil.example.com"
    assert caught.value.allowed == ("a", "b")


def test_refusal_with_an_empty_list_says_none() -> None:
    with pytest.raises(ServerNotAllowedError, match=r"\(allowed: none\)$"):
        check_server_allowed("db1", [], credential_name="x", **PG)


def test_refusal_quotes_a_hostile_server_name_and_shortens_a_long_list() -> None:
    allowed = [f"db{i}.example.com" for i in range(30)]
    with pytest.raises(ServerNotAllowedError) as caught:
        check_server_allowed("evil\nINFO forged log line", allowed, credential_name="x", **PG)
    message = str(caught.value)
    assert "\n" not in message
    assert "'evil\\nINFO forged log line'" in message
    assert message.endswith("db19.example.com, and 10 more)")


@pytest.mark.parametrize(
    "entry",
    [
        "db1.example.com",
        "DB1.Example.com",
        "db1.example.com.",
        "localhost",
        "sql_server-01",
        "*",
        "*.db.example.com",
        "db-*.example.com",
        "*.db.corp",
        "db1.example.com:5432",
        "db1.example.com:*",
        "*.db.example.com:6432",
        "10.0.0.5:65535",
        "[::1]:5432",
        "[::1]:*",
        "[::1]",
        "*.example.com",
        "*.example.co.uk",
        "10.0.0.5",
        "::1",
        "0:0::1",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "::ffff:10.0.0.5",
    ],
)
def test_valid_entries(entry: str) -> None:
    assert validate_allowed_server_entry(entry) is None


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("", "must not be empty"),
        (" ", "whitespace"),
        ("db1.example.com ", "whitespace"),
        ("db1 .example.com", "whitespace"),
        ("db1.example.com\t", "whitespace"),
        ("10.0.0.0/8", "CIDR"),
        ("https://db1.example.com", "URLs"),
        ("db1.example.com:0", "port '0'"),
        ("db1.example.com:05432", "port '05432'"),
        ("db1.example.com:65536", "port '65536'"),
        ("db1.example.com:", "port ''"),
        ("db1.example.com:x", "port 'x'"),
        ("db1.example.com:5432:1", "written \\[address\\]:port"),
        ("::1:5432:x", "written \\[address\\]:port"),
        ("[::1]5432", "\\[address\\]:port"),
        ("[::1", "without closing"),
        ("*:5432", "'\\*' alone"),
        ("*:*", "'\\*' alone"),
        # wildcards spanning a public suffix: anyone can register a name under it
        ("*.com", "public suffix 'com'"),
        ("*.co.uk", "public suffix 'co.uk'"),
        ("db*.co.uk", "public suffix 'co.uk'"),
        ("x.*.com:5432", "public suffix 'com'"),
        ("*.github.io", "public suffix 'github.io'"),
        ("*.us-east-1.rds.amazonaws.com", "public suffix"),
        # a '*' spans labels: these cover names under public suffixes beneath them
        ("*.amazonaws.com", "public suffix"),
        ("*.rds.amazonaws.com", "public suffix 'af-south-1.rds.amazonaws.com'"),
        ("*.corp", "public suffix 'corp'"),
        ("[db1.example.com]", "IPv6"),
        ("[10.0.0.5]", "IPv6"),
        ("db1.ex\u0430mple.com", "ASCII"),
        ("bücher.example", "ASCII"),
        ("a..example.com", "empty label"),
        (".example.com", "empty label"),
        ("example.com..", "empty label"),
        (".", "empty label"),
        ("db1;drop", "only letters"),
        ("db1@example.com", "only letters"),
        ("db?.example.com", "only letters"),
        ("db1\\instance", "only letters"),
        ("x" * 64 + ".example.com", "longer than 63"),
        (("a" * 60 + ".") * 5 + "com", "longer than 253"),
        ("**.example.com", "'\\*\\*'"),
        ("db.example.*", "last label"),
        ("*.", "last label"),
        ("10.0.0.*", "last label"),
        ("10.0.0.256", "looks like an IP address"),
        ("127.1", "looks like an IP address"),
        ("0x7f000001", "looks like an IP address"),
        ("010.0.0.5", "looks like an IP address"),
    ],
)
def test_invalid_entries(entry: str, message: str) -> None:
    error = validate_allowed_server_entry(entry)
    assert error is not None
    assert re.search(message, error), error


@pytest.mark.parametrize(
    ("entry", "port", "allowed"),
    [
        # a bare entry: the engine's default port only
        ("127.0.0.1", 0, True),
        ("127.0.0.1", 5432, True),
        ("127.0.0.1", 6543, False),
        ("*.db.example.com", 6543, False),
        ("[::1]", 6543, False),
        # host:port and host:* widen it
        ("127.0.0.1:6543", 6543, True),
        ("127.0.0.1:6543", 5432, False),
        ("127.0.0.1:6543", 0, False),
        ("127.0.0.1:*", 6543, True),
        ("127.0.0.1:*", 0, True),
        ("[::1]:6543", 6543, True),
        ("[::1]:*", 1, True),
        ("*", 6543, True),
    ],
)
def test_ports(entry: str, port: int, allowed: bool) -> None:
    server = "::1" if entry.startswith("[") else "127.0.0.1"
    if entry.startswith("*."):
        server = "a.db.example.com"
    assert server_allowed(server, [entry], port=port, default_port=5432) is allowed


def test_an_engine_without_a_default_port_needs_a_port_in_the_entry() -> None:
    # ODBC: only the driver knows its default port, so a bare entry allows nothing.
    assert not server_allowed("127.0.0.1", ["127.0.0.1"], port=5432, default_port=0)
    assert not server_allowed("127.0.0.1", ["127.0.0.1"], port=0, default_port=0)
    assert server_allowed("127.0.0.1", ["127.0.0.1:5432"], port=5432, default_port=0)
    assert not server_allowed("127.0.0.1", ["127.0.0.1:5432"], port=0, default_port=0)
    assert server_allowed("127.0.0.1", ["127.0.0.1:*"], port=0, default_port=0)


def test_refusal_on_the_port_says_how_to_widen_it() -> None:
    with pytest.raises(ServerNotAllowedError) as caught:
        check_server_allowed(
            "127.0.0.1", ["127.0.0.1"], port=6543, default_port=5432, credential_name="x"
        )
    assert str(caught.value) == (
        "credential 'x' may not be sent to server '127.0.0.1' port 6543 (allowed: 127.0.0.1); "
        "a bare entry allows the default port 5432 only: allow '127.0.0.1:6543' or '127.0.0.1:*'"
    )
    with pytest.raises(ServerNotAllowedError, match=r"allow '\[::1\]:6543' or '\[::1\]:\*'"):
        check_server_allowed("::1", ["::1"], port=6543, default_port=5432, credential_name="x")


def test_a_list_is_at_most_256_distinct_entries() -> None:
    assert allowed_servers_problems([f"db{i}.example.com" for i in range(256)]) == []
    too_many = [f"db{i}.example.com" for i in range(MAX_ALLOWED_SERVERS + 1)]
    assert allowed_servers_problems(too_many) == [(None, "must have at most 256 entries, not 257")]
    problems = allowed_servers_problems(["a.example.com", "*.com", "a.example.com"])
    assert [index for index, _ in problems] == [1, 2]
    assert "repeats entry 0" in problems[1][1]
