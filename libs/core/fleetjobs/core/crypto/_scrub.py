"""Masking secrets in text that is about to be stored, logged or returned.

Database drivers put surprising things in their error messages: the connection string they
were given (ODBC does), a URL with the password in it (SQLAlchemy does), the statement that
failed. Every such message goes through ``scrub`` before it leaves the process that connected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MASK = "***"

# key=value settings in the spellings drivers use: libpq conninfo (password='it''s' or
# password='it\'s'), ODBC (PWD={a;b}} c}), JDBC/ADO (Password="x"), URL queries (&password=x).
# The key may carry a prefix (sslpassword, db_password, PGPASSWORD). An unquoted value runs to
# whitespace, ';' or '&' -- passwords may contain anything else, so over-masking is preferred.
_KEY_VALUE_RE = re.compile(
    r"""
    (?P<key>(?<![\w])\w*(?:password|passwd|pwd)\s*=\s*)
    (?P<value>
        '(?:[^'\\]|\\.|'')*(?:'|\Z)
      | "(?:[^"\\]|\\.|"")*(?:"|\Z)
      | \{(?:[^}]|\}\})*(?:\}|\Z)
      | [^\s;&]*
    )
    """,
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
# scheme://user:password@host -- the password part of a URL's user info.
_URL_USERINFO_RE = re.compile(
    r"(?P<prefix>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)(?P<value>[^\s@]*)(?=@)", re.IGNORECASE
)


# A secret shorter than this is not replaced wherever it occurs: masking every "x" in a
# message destroys the message and hides nothing (such a password is no secret to guess).
# password=… settings and URL passwords are still masked whatever their length.
MIN_VERBATIM = 4


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return ``text`` with every secret, and every password-looking setting, replaced by ***.

    Each non-empty secret is replaced wherever it occurs, also in the percent-encoded and
    SQL-quoted forms a driver may echo it in; then ``password=…``/``pwd=…`` values and URL
    passwords are masked whatever they hold, for secrets the caller did not know about.
    """
    variants = {
        form for secret in secrets if len(secret) >= MIN_VERBATIM for form in _forms(secret)
    }
    if variants:
        # Longest first, in one pass: replacing "abc" before "abcdef" would leave "***def".
        alternatives = sorted(variants, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(form) for form in alternatives))
        text = pattern.sub(MASK, text)
    text = _KEY_VALUE_RE.sub(lambda match: match["key"] + MASK, text)
    return _URL_USERINFO_RE.sub(lambda match: match["prefix"] + MASK, text)


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret, safe=""), secret.replace("'", "''")}
