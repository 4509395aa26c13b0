"""The command modules never import the parser that imports them (no import cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import fleetjobs.cli._parser as parser_module

PACKAGE = Path(parser_module.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_module_the_parser_imports_imports_the_parser_back() -> None:
    commands = {
        name.split(".")[-1]
        for name in _imported_modules(PACKAGE / "_parser.py")
        if name.startswith("fleetjobs.cli._")
    }
    assert {"_contents", "_credentials", "_jobs", "_targets"} <= commands
    for name in sorted(commands):
        if not (PACKAGE / f"{name}.py").is_file():
            continue  # a name imported from a module, not a module
        assert "fleetjobs.cli._parser" not in _imported_modules(PACKAGE / f"{name}.py"), name
