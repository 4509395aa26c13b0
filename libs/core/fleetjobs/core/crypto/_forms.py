"""Every spelling of a secret that text about to leave the process may hold.

A password rarely appears only as itself. A driver echoes it SQL-quoted or in an ODBC brace;
a URL holds it percent-encoded; an exception's repr escapes its backslashes and quotes (and,
as ``ascii()`` or ``unicode_escape``, its non-ASCII characters); a bytes repr shows its UTF-8
or Latin-1 encoding; a JSON log line escapes all of that once more. ``secret_forms`` returns
each of these spellings, and each spelling of a spelling (two layers: a repr inside a JSON
line, a percent-encoded value inside a repr), so that ``scrub`` can mask them all.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from urllib.parse import quote, quote_plus

# Python's repr escapes a quote only when the text holds the other kind too, and a secret's
# repr depends on the text around it: both variants of every quoted form are produced.
_BOTH_QUOTES = "'\""


def _python_str(text: str) -> set[str]:
    # repr(text + '\'"') quotes with ' and escapes every ' in text; strip the added tail.
    escaped = repr(text + _BOTH_QUOTES)[1:-4]
    in_ascii = ascii(text + _BOTH_QUOTES)[1:-4]
    return {escaped, escaped.replace("\\'", "'"), in_ascii, in_ascii.replace("\\'", "'")}


def _python_bytes(text: str) -> set[str]:
    forms: set[str] = set()
    for encoding in ("utf-8", "latin-1"):
        try:
            raw = text.encode(encoding)
        except UnicodeEncodeError:
            continue
        escaped = repr(raw + _BOTH_QUOTES.encode())[2:-4]
        forms |= {escaped, escaped.replace("\\'", "'")}
    return forms


def _unicode_escape(text: str) -> set[str]:
    return {text.encode("unicode_escape").decode("ascii")}


def _json(text: str) -> set[str]:
    return {json.dumps(text)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}


def _percent(text: str) -> set[str]:
    # surrogatepass: a secret holding a lone surrogate (which no driver can send, but which a
    # credential may hold) must not make every scrub with it fail.
    forms = {
        quote(text, safe="", errors="surrogatepass"),
        quote_plus(text, safe="", errors="surrogatepass"),
    }
    with contextlib.suppress(UnicodeEncodeError):
        forms.add(quote(text, safe="", encoding="latin-1"))
    return forms


def _sql_quoted(text: str) -> set[str]:
    # Standard SQL doubles quotes; MySQL (and PostgreSQL's E'') escape with backslashes.
    backslashed = text.replace("\\", "\\\\")
    return {
        text.replace("'", "''"),
        backslashed.replace("'", "\\'"),
        backslashed.replace("'", "\\'").replace('"', '\\"'),
    }


def _odbc_braced(text: str) -> set[str]:
    return {text.replace("}", "}}")}


_LAYER: tuple[Callable[[str], set[str]], ...] = (
    _python_str,
    _python_bytes,
    _unicode_escape,
    _json,
    _percent,
    _sql_quoted,
    _odbc_braced,
)


def _one_layer(text: str) -> set[str]:
    forms = {text}
    for spell in _LAYER:
        forms |= spell(text)
    return forms


def secret_forms(secret: str) -> set[str]:
    """The secret, its escaped, quoted, encoded and bytes-repr spellings, and theirs."""
    if not secret:
        return set()
    return {twice for once in _one_layer(secret) for twice in _one_layer(once)}
