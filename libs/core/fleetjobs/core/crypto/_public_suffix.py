"""Whether an allow-list glob spans a public suffix (docs/credentials.md, "Public suffixes").

``*.com`` or ``*.github.io`` would allow every server anyone can register a name under, which
is the harvest the allow-list exists to stop. So would ``*.amazonaws.com``: its ``*`` spans
several labels, so it covers ``evil.us-east-1.rds.amazonaws.com``, a name anyone can create
under the public suffix ``us-east-1.rds.amazonaws.com``. A glob is therefore refused when its
fixed part is a public suffix or has one beneath it.

The list is the Public Suffix List shipped inside the ``publicsuffixlist`` package (kept
current by upgrading it; nothing is fetched at run time), ICANN and private sections both. A
top-level domain the list does not know (``corp``, ``local``) counts as a public suffix, as the
list's own default rule says.
"""

from __future__ import annotations

import functools

from publicsuffixlist import PSLFILE, PublicSuffixList


def glob_public_suffix(name: str) -> str | None:
    """The public suffix a glob's wildcard would span, or None.

    ``name`` is a lower-case glob without a trailing dot and with ``*`` outside its last label
    (checked before). The fixed labels right of the last label holding a ``*`` are what every
    match ends with. When they are a public suffix, or a public suffix lies beneath them
    (the ``*`` may stand for several labels), the glob spans it.
    """
    labels = name.split(".")
    starred = max(index for index, label in enumerate(labels) if "*" in label)
    fixed = ".".join(labels[starred + 1 :])
    if _list().is_public(fixed):
        return fixed
    return _suffixes_beneath().get(fixed)


@functools.cache
def _list() -> PublicSuffixList:
    # Parsed once per process (tens of milliseconds), on the first glob that needs it.
    return PublicSuffixList()


@functools.cache
def _suffixes_beneath() -> dict[str, str]:
    """Every proper parent of a public suffix rule → one rule beneath it (for the message):
    ``amazonaws.com`` → ``us-east-1.rds.amazonaws.com``. Read from the list's own file, once."""
    beneath: dict[str, str] = {}
    with open(PSLFILE, encoding="utf-8") as source:
        for line in source:
            rule = line.strip().split(" ")[0]
            if not rule or rule.startswith("//") or rule.startswith("!"):
                continue  # comments, and exceptions (names that are NOT suffixes)
            rule = rule.removeprefix("*.")
            try:
                ascii_rule = rule.encode("idna").decode("ascii").lower()
            except UnicodeError:
                continue  # not expressible as an allow-list entry, which is ASCII
            labels = ascii_rule.split(".")
            for start in range(1, len(labels)):
                beneath.setdefault(".".join(labels[start:]), ascii_rule)
    return beneath
