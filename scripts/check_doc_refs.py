"""Fail when a comment, docstring, proto comment or markdown link names a document the
repository lacks.

A reader who clones fleetjobs has only what is in it: a comment that sends them to a file
kept elsewhere (a design note on someone's disk, `../shared/...`) is a dead end. This scans
every *.py, *.proto and *.md file and the Makefile the repository holds (tracked, or new and
not ignored) for

- paths of markdown files (`docs/design.md`, `README.md`), resolved against the citing file's
  folder, then the repository root;
- any other path under `docs/` (`docs/adr/0004` for short names decision 4);
- `ADR 4` / `ADRs 1 and 5`: a numbered decision in `docs/adr/` (`0004-….md`);
- relative links of markdown files (`[text](../services/x.py)`);
- the folder kept beside a clone, never in it (`../shared`, `/work/shared`),

and prints one line per reference that does not resolve. A line holding `doc-refs: ignore`
is skipped (for a test that writes a dangling reference on purpose).

Usage: `python scripts/check_doc_refs.py [ROOT]` (ROOT defaults to the repository this script
is in). Exit status 1 when a reference dangles.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

SUFFIXES = (".py", ".proto", ".md")
NAMES = ("Makefile",)
SKIPPED_DIRS = {".git", ".venv", "node_modules", ".fleetjobs", "build", "dist", "__pycache__"}
# Generated stubs are never edited by hand, so they never carry a reference of ours.
SKIPPED_PREFIXES = ("libs/api/fleetjobs/",)
# This script names the patterns it looks for.
SKIPPED_FILES = {"scripts/check_doc_refs.py"}
IGNORE_MARK = "doc-refs: ignore"

_PATH_CHARS = r"[\w.-]"
# A markdown file's path: a bare name, one under docs/, or one with ../ in front. Not a piece of
# a longer path or URL (no path character or `/` right before it).
_MD_PATH = re.compile(rf"(?<![\w/.:-])((?:\.\.?/)*(?:{_PATH_CHARS}+/)*{_PATH_CHARS}+\.md)\b")
# Anything under docs/: `docs/adr/0002-per-server-slots.md`, `docs/adr/`.
_DOCS_PATH = re.compile(rf"(?<![\w/.:-])(docs/(?:{_PATH_CHARS}+/?)*)")
# `ADR 4`, `ADR-0004`, `ADRs 1 and 5`, `ADRs 1, 4 or 5`.
_ADR = re.compile(r"\bADRs?[ -]?#?(\d{1,4})((?:\s*(?:,|and|or|&)\s*\d{1,4}\b)*)")
_MORE_NUMBERS = re.compile(r"\d{1,4}")
# Folders kept beside a clone, never in it: `../shared`, `/work/shared`.
_OUTSIDE = re.compile(r"(?<![\w.-])(?:(?:\.\./)+|/work/)shared\b")
# [text](target "title") in markdown.
_MD_LINK = re.compile(r"\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Dangling:
    path: str
    line: int
    reference: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reference!r}: {self.why}"


def repository_files(root: Path) -> list[str]:
    """Every file the repository holds, as POSIX paths relative to `root`: tracked files and
    new ones not ignored when `root` is a git work tree, else every file under it."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return sorted(_walk(root))
    # A tracked file deleted in the work tree is no longer there to read.
    return sorted(name for name in set(listed.split("\0")) if name and (root / name).is_file())


def _walk(root: Path) -> Iterator[str]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if name not in SKIPPED_DIRS]
        for name in files:
            yield (Path(folder) / name).relative_to(root).as_posix()


def _scanned(files: Iterable[str]) -> list[str]:
    return [
        name
        for name in files
        if (name.endswith(SUFFIXES) or PurePosixPath(name).name in NAMES)
        and not name.startswith(SKIPPED_PREFIXES)
        and name not in SKIPPED_FILES
    ]


class _Tree:
    """The repository's files and folders, to resolve references against (case-exact)."""

    def __init__(self, files: Iterable[str]) -> None:
        self.files = set(files)
        self.dirs = {""}
        for name in self.files:
            parent = PurePosixPath(name).parent
            while str(parent) != ".":
                self.dirs.add(str(parent))
                parent = parent.parent
        self.adrs = {
            int(match.group(1))
            for name in self.files
            if (match := re.fullmatch(r"docs/adr/(\d+)-[^/]+\.md", name))
        }

    def resolve(self, base: str, reference: str) -> str | None:
        """The repository path `reference` names from folder `base`, or None when it climbs
        out of the repository."""
        parts: list[str] = [] if base in ("", ".") else base.split("/")
        for part in reference.split("/"):
            if part in ("", "."):
                continue
            if part == "..":
                if not parts:
                    return None
                parts.pop()
            else:
                parts.append(part)
        return "/".join(parts)

    def exists(self, path: str) -> bool:
        return path in self.files or path in self.dirs


def check_text(tree: _Tree, path: str, text: str) -> list[Dangling]:
    folder = str(PurePosixPath(path).parent)
    folder = "" if folder == "." else folder
    found: list[Dangling] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if IGNORE_MARK in line:
            continue

        def dangling(reference: str, why: str, *, at: int = number) -> None:
            item = Dangling(path, at, reference, why)
            if item not in found:  # a markdown link names its target twice
                found.append(item)

        for match in _OUTSIDE.finditer(line):
            dangling(match.group(0), "outside the repository: a clone does not have it")
        for match in _MD_PATH.finditer(line):
            reference = match.group(1)
            if _OUTSIDE.match(reference):
                continue  # reported above
            candidates = [tree.resolve(folder, reference), tree.resolve("", reference)]
            if not any(c is not None and tree.exists(c) for c in candidates):
                dangling(reference, "no such document in the repository")
        for match in _DOCS_PATH.finditer(line):
            reference = match.group(1).rstrip(".")
            if reference.endswith(".md"):
                continue  # checked as a markdown path
            if short := re.fullmatch(r"docs/adr/(\d+)", reference):
                # `docs/adr/0006` for short: the decision numbered 6.
                if int(short.group(1)) not in tree.adrs:
                    dangling(reference, f"no {reference}-*.md in the repository")
            elif not tree.exists(reference.rstrip("/")):
                dangling(reference, "no such file or folder in the repository")
        for match in _ADR.finditer(line):
            numbers = [int(match.group(1))]
            numbers += [int(n) for n in _MORE_NUMBERS.findall(match.group(2))]
            for adr in numbers:
                if adr not in tree.adrs:
                    dangling(match.group(0), f"no docs/adr/{adr:04d}-*.md in the repository")
        if path.endswith(".md"):
            for match in _MD_LINK.finditer(line):
                target = match.group(1)
                if _SCHEME.match(target) or target.startswith(("#", "/")):
                    continue
                target = target.split("#", 1)[0].split("?", 1)[0]
                if not target or target.endswith(".md"):
                    continue  # an anchor only, or checked as a markdown path
                resolved = tree.resolve(folder, target)
                if resolved is None:
                    dangling(target, "the link climbs out of the repository")
                elif not tree.exists(resolved.rstrip("/")):
                    dangling(target, f"the link names {resolved}, which the repository lacks")
    return found


def check(root: Path) -> list[Dangling]:
    files = repository_files(root)
    tree = _Tree(files)
    found: list[Dangling] = []
    for path in _scanned(files):
        text = (root / path).read_text(encoding="utf-8", errors="replace")
        found.extend(check_text(tree, path, text))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "root",
        nargs="?",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="the repository to check (default: the one holding this script)",
    )
    args = parser.parse_args(argv)
    found = check(args.root.resolve())
    for item in found:
        print(item, file=sys.stderr)
    if found:
        print(
            f"{len(found)} reference(s) name a document the repository lacks: add it, or point "
            "the reference at docs/ or an ADR",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
