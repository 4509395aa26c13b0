"""Masking secrets in text that is about to be stored, logged or returned.

Database drivers put surprising things in their error messages: the connection string they
were given (ODBC does), a URL with the password in it (SQLAlchemy does), the statement that
failed, the repr of an argument. Every such message goes through ``scrub`` before it leaves
the process that connected. The spellings a secret can take are in ``_forms``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from fleetjobs.core.crypto._forms import secret_forms

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

    Each secret of at least MIN_VERBATIM characters is replaced wherever it occurs, in every
    spelling a driver, a repr or a log line may give it (escaped, quoted, percent-encoded, as
    bytes: see ``secret_forms``); then ``password=…``/``pwd=…`` values and URL passwords are
    masked whatever they hold, for secrets the caller did not know about.
    """
    return scrub_with(text, _pattern(_verbatim(secrets)))


def scrub_with(text: str, pattern: re.Pattern[str] | None) -> str:
    """``scrub`` with a pattern built once by ``secrets_pattern``, for a caller that scrubs
    many texts against a set of secrets that seldom changes (the log formatter)."""
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _KEY_VALUE_RE.sub(lambda match: match["key"] + MASK, text)
    return _URL_USERINFO_RE.sub(lambda match: match["prefix"] + MASK, text)


def secrets_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """The pattern matching every spelling of every secret, uncached: build it once per set."""
    return _build_pattern(_verbatim(secrets))


def _verbatim(secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({s for s in secrets if len(s) >= MIN_VERBATIM}))


def scrub_all(texts: Iterable[str], secrets: Iterable[str]) -> list[str]:
    """``scrub`` over many texts (a task's messages) with the same secrets."""
    known = list(secrets)
    return [scrub(text, known) for text in texts]


# A task's messages are scrubbed one by one with the same secrets: the pattern is built once.
# Small, so few decrypted passwords stay referenced here.
@functools.lru_cache(maxsize=16)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    return _build_pattern(secrets)


def _build_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    variants = {form for secret in secrets for form in secret_forms(secret)}
    if not variants:
        return None
    # Longest first, in one pass: replacing "abc" before "abcdef" would leave "***def".
    alternatives = sorted(variants, key=len, reverse=True)
    return re.compile("|".join(re.escape(form) for form in alternatives))
