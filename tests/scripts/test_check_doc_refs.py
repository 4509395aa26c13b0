"""scripts/check_doc_refs.py: a reference to a document the repository lacks fails the lint.

The trees below spell `docs/` as `DOCS/` and `.md` as `.MD`, and split `ADR n` and the
shared folder in two, so that this file names no missing document itself (the script scans it
too); `_real` turns them back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_doc_refs.py"


def _real(text: str) -> str:
    return text.replace("DOCS/", "docs/").replace(".MD", ".md")


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / _real(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_real(text), encoding="utf-8")
    return root


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(root)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


GOOD = {
    "README.MD": (
        "See [the design](DOCS/design.MD), [the slots decision](DOCS/adr/0002-slots.MD)\n"
        "and [the runner](services/runner.py#L1); [a site](https://example.com/x.MD).\n"
    ),
    "DOCS/design.MD": "# Design\n\n[Back](../README.MD), and ADR 2 for the slots.\n",
    "DOCS/adr/0002-slots.MD": "# 2. Slots\n",
    "services/runner.py": (
        '"""Runs tasks (DOCS/design.MD, "Flow"; ADRs 2 and 2)."""\n'
        "# The slots: DOCS/adr/0002-slots.MD (DOCS/adr/0002), in DOCS/adr/.\n"
    ),
    "protos/x.proto": '// Errors: DOCS/design.MD.\nsyntax = "proto3";\n',
    "Makefile": "doc:  ## see DOCS/design.MD\n\ttrue\n",
}


def test_a_tree_whose_references_all_resolve_passes(tmp_path: Path) -> None:
    done = _check(_tree(tmp_path, GOOD))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("name", "text", "reference"),
    [
        ("services/a.py", '# Why: design.MD, "State".\n', "design.MD"),
        ("services/a.py", '"""The list (API.MD, "Allowed servers")."""\n', "API.MD"),
        ("protos/y.proto", "// As conventions.MD says.\n", "conventions.MD"),
        ("services/a.py", "# See ADR" + " 7.\n", "ADR" + " 7"),
        ("services/a.py", "# See ADRs 2 and" + " 9.\n", "ADRs 2 and" + " 9"),
        ("services/a.py", "# DOCS/adr/0009-" + "later.MD\n", "DOCS/adr/0009-" + "later.MD"),
        ("services/a.py", "# DOCS/" + "howto/\n", "DOCS/" + "howto/"),
        ("services/a.py", "# (DOCS/adr/" + "0003)\n", "DOCS/adr/" + "0003"),
        ("DOCS/b.MD", "The [facts](../" + "shared/design.MD).\n", "../" + "shared"),
        ("DOCS/b.MD", "[the runner](../services/" + "gone.py)\n", "../services/" + "gone.py"),
        ("Makefile", "# see DOCS/missing.MD\n", "DOCS/missing.MD"),
    ],
)
def test_a_dangling_reference_fails_and_is_named(
    tmp_path: Path, name: str, text: str, reference: str
) -> None:
    files = dict(GOOD)
    files[name] = files.get(name, "") + text
    done = _check(_tree(tmp_path, files))
    assert done.returncode == 1
    assert _real(name) in done.stderr
    assert _real(reference) in done.stderr


def test_a_line_marked_ignore_is_skipped(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["services/a.py"] = "x = 'nowhere.MD'  # doc-refs: " + "ignore\n"
    done = _check(_tree(tmp_path, files))
    assert done.returncode == 0, done.stderr


def test_generated_stubs_are_not_scanned(tmp_path: Path) -> None:
    files = dict(GOOD)
    files["libs/api/fleetjobs/v1/x_pb2.py"] = "# API.MD\n"
    done = _check(_tree(tmp_path, files))
    assert done.returncode == 0, done.stderr
