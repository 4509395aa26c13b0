"""Scrubbing secrets out of database messages before they are stored or logged."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from fleetjobs.core.crypto import MASK, scrub, scrub_all


def test_every_occurrence_of_every_secret_is_masked() -> None:
    text = "login as bob with s3cret failed; s3cret was rejected, token tk-9 too"
    assert scrub(text, ["s3cret", "tk-9"]) == (
        "login as bob with *** failed; *** was rejected, token *** too"
    )


def test_empty_secrets_and_no_secrets_change_nothing() -> None:
    text = "connection refused"
    assert scrub(text, []) == text
    assert scrub(text, [""]) == text
    assert scrub("", ["x"]) == ""


def test_a_secret_containing_another_is_masked_whole() -> None:
    # Replacing "abcd" first would leave "***ef" and leak the rest.
    assert scrub("pw abcdef and abcd", ["abcd", "abcdef"]) == "pw *** and ***"


def test_regex_characters_in_a_secret_are_literal() -> None:
    assert scrub("x a.b*c(d) y aXbbc", ["a.b*c(d)"]) == "x *** y aXbbc"


def test_secret_is_masked_in_the_forms_drivers_echo_it_in() -> None:
    secret = "p@ss w/rd'1"
    text = (
        "url postgresql://bob:p%40ss%20w%2Frd%271@db/x, form p%40ss+w%2Frd%271, sql 'p@ss w/rd''1'"
    )
    scrubbed = scrub(text, [secret])
    assert "p%40ss" not in scrubbed
    assert "p@ss" not in scrubbed
    assert scrubbed == "url postgresql://bob:***@db/x, form ***, sql '***'"


def test_the_secrets_iterable_may_be_a_generator() -> None:
    assert scrub("aaaa b cccc", (s for s in ["aaaa", "cccc"])) == "*** b ***"


def test_secrets_too_short_to_hide_anything_are_not_masked_everywhere() -> None:
    # Masking every "x" would wreck the message ("e***ecution") and protect nothing.
    assert scrub("the execution stopped", ["x"]) == "the execution stopped"
    assert scrub("password=x host=db", ["x"]) == "password=*** host=db"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host=db password=hunter2 user=bob", "host=db password=*** user=bob"),
        ("Server=db;Uid=bob;Pwd=hunter2;Database=x", "Server=db;Uid=bob;Pwd=***;Database=x"),
        ("PWD={hun;ter}}2};UID=bob", "PWD=***;UID=bob"),
        ("password='hun ter''2' host=db", "password=*** host=db"),
        ("password='hun\\'ter 2' host=db", "password=*** host=db"),
        ('Password="hun;ter 2";Server=db', "Password=***;Server=db"),
        ("PASSWORD = hunter2", "PASSWORD = ***"),
        ("sslpassword=abc dbname=x", "sslpassword=*** dbname=x"),
        ("DB_PASSWORD=abc", "DB_PASSWORD=***"),
        ("passwd=abc", "passwd=***"),
        ("?user=bob&password=abc&host=x", "?user=bob&password=***&host=x"),
        ("password=", "password=***"),
        ("password='unterminated and the rest", "password=***"),
        ("PWD={unterminated;rest", "PWD=***"),
        ("mysql+pymysql://bob:hunter2@db:3306/x", "mysql+pymysql://bob:***@db:3306/x"),
        ("see postgresql://db:5432/x", "see postgresql://db:5432/x"),
        ('FATAL:  password authentication failed for user "bob"', None),
        ("Access denied for user 'bob'@'h' (using password: YES)", None),
        ("the keyword password is fine, and so is pwd", None),
    ],
)
def test_password_settings_are_masked_without_knowing_the_secret(
    text: str, expected: str | None
) -> None:
    assert scrub(text, []) == (text if expected is None else expected)


def test_known_secret_and_setting_together() -> None:
    text = "could not connect with 'host=db password=hunter2': hunter2 rejected"
    # The unquoted value runs to the next space, so the closing quote goes too: over-masking
    # is the safe side.
    assert scrub(text, ["hunter2"]) == "could not connect with 'host=db password=*** *** rejected"


# A password that defeated the scrubber: a non-Latin-1 character, a backslash and both quotes.
_HOSTILE = "pa€s\\w'\"d"
# Its Latin-1-encodable sibling, for the Latin-1 spellings.
_LATIN1 = "pä$s\\w'\"d"


def _representations(secret: str) -> dict[str, str]:
    spellings = {
        "raw": secret,
        "repr": repr(secret),
        "repr in a tuple": repr(("x'y", secret)),
        "repr in a dict": repr({"secret": secret, "q": '"'}),
        "repr of a repr": repr(repr(secret)),
        "ascii": ascii(secret),
        "unicode_escape": secret.encode("unicode_escape").decode("ascii"),
        "json": json.dumps(secret),
        "json, not ascii": json.dumps(secret, ensure_ascii=False),
        "json of a repr": json.dumps({"event": repr(ValueError(secret))}),
        "percent-encoded": quote(secret, safe=""),
        "form-encoded": quote_plus(secret, safe=""),
        "utf-8 bytes repr": repr(secret.encode("utf-8")),
        "sql doubled quotes": "'" + secret.replace("'", "''") + "'",
        "mysql backslashes": "'" + secret.replace("\\", "\\\\").replace("'", "\\'") + "'",
        "exception repr": repr(UnicodeEncodeError("latin-1", secret, 2, 3, "ordinal not in range")),
        "odbc braces": "PWD={" + secret.replace("}", "}}") + "}",
    }
    try:
        raw = secret.encode("latin-1")
    except UnicodeEncodeError:
        return spellings
    spellings["latin-1 bytes repr"] = repr(raw)
    spellings["latin-1 percent-encoded"] = quote(secret, safe="", encoding="latin-1")
    return spellings


@pytest.mark.parametrize("secret", [_HOSTILE, _LATIN1])
def test_every_representation_of_a_secret_is_masked(secret: str) -> None:
    for name, spelling in _representations(secret).items():
        scrubbed = scrub(f"<<{spelling}>>", [secret])
        assert MASK in scrubbed, name
        # Every spelling keeps the secret's "pa" and its "w": neither may survive.
        assert "pa" not in scrubbed, (name, scrubbed)
        assert "w" not in scrubbed, (name, scrubbed)


def test_scrub_all_masks_each_text() -> None:
    texts = [f"NOTICE: {_HOSTILE}", "clean", repr(_HOSTILE)]
    assert scrub_all(texts, [_HOSTILE]) == ["NOTICE: ***", "clean", "'***'"]
