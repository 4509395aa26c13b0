"""Running the CLI in-process from tests, as click.testing does for click programs.

    result = run_cli("target", "add-database", "--engine", "sqlite", "--database", "a.db",
                     env={"FLEETJOBS_CATALOG_ADDR": address})
    assert result.exit_code == 0, result.stderr
    target_id = result.stdout.strip()

sys.stdin, sys.stdout, sys.stderr and the given environment variables are replaced for the
call and put back after it, so calls must not run concurrently from several threads.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from fleetjobs.cli._app import main


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


class _Pipe(io.StringIO):
    """A captured stream that can say it is (or is not) a terminal."""

    def __init__(self, text: str = "", *, tty: bool = False) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def run_cli(
    *argv: str, stdin: str = "", env: Mapping[str, str] | None = None, tty: bool = False
) -> CliResult:
    """Run `fleetjobs ARGV...` with `stdin` as its input; `tty` makes stderr claim a terminal
    (the live progress bar)."""
    stdout, stderr = _Pipe(), _Pipe(tty=tty)
    with _environment(env or {}), _streams(_Pipe(stdin), stdout, stderr):
        code = main(list(argv))
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


@contextmanager
def _streams(stdin: _Pipe, stdout: _Pipe, stderr: _Pipe) -> Iterator[None]:
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
