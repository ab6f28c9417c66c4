"""The JSONL batches of ``comply search --queries`` and ``comply review --drafts``: each line checked on its own
(:func:`comply.files.jsonl.batch_lines`).

A bad line (not UTF-8, not JSON, not an object, its text field missing, not a string or empty, a lone
surrogate anywhere) becomes one output line ``{"id", "line", "error"}`` (also told on stderr) and the
batch goes on; the command then exits with code 1 (:data:`FAILED`) so that a script notices.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from cli.common import print_json
from comply.files import jsonl
from comply.files.jsonl import BatchLine

FAILED = 1


def batch_lines(path: Path, field: str) -> Iterator[BatchLine]:
    """The non-blank lines of a JSONL file, each an object whose ``field`` is a non-empty string.

    Raises:
        OSError: the file cannot be opened.
    """
    with path.open("rb") as lines:
        yield from jsonl.batch_lines(lines, field)


def report_error(line: BatchLine, error: str = "") -> None:
    """Print the line's error as its output line and on stderr."""
    message = error or line.error
    print_json({"id": line.id, "line": line.line, "error": message})
    click.echo(f"第 {line.line} 行：{message}", err=True)
