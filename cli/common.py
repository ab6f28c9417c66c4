"""What the command groups share: command classes, the clearance type, settings, printing, the LLM backend, errors."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from comply.levels import LEVELS, level_rank

if TYPE_CHECKING:
    from comply.config import Settings
    from comply.llm.backend import Backend

LEVEL_NAMES = " / ".join(LEVELS)


class _WholeShortHelp:
    """Listed in its group by the first paragraph of its help, whole (click would cut Chinese help short)."""

    help: str | None
    short_help: str | None

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or (self.help or "").split("\n\n")[0].strip()


class Command(_WholeShortHelp, click.Command):
    """A ``comply`` command."""


class Group(_WholeShortHelp, click.Group):
    """A ``comply`` command group: its commands listed in the order they were added."""

    command_class = Command
    group_class = type  # sub-groups are of this class too

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class Level(click.ParamType):
    """A security level (密级) by Chinese name, English alias or number, converted to its rank."""

    name = "level"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return level_rank(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


LEVEL = Level()


def current_settings() -> Settings:
    """This run's settings: the root context's ``obj`` when the caller gave one, else loaded once (env > TOML > defaults)."""
    root = click.get_current_context().find_root()
    if root.obj is None:
        from comply.config import load_settings

        root.obj = load_settings()
    return root.obj


def error(message: str, code: int = 1) -> int:
    """Print a message on stderr and return the exit code to give."""
    click.echo(message, err=True)
    return code


def print_json(obj: object) -> None:
    """Print one JSON value on one line, Chinese as is."""
    click.echo(json.dumps(obj, ensure_ascii=False, default=str))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]], right: Collection[str] = ()) -> None:
    """Print rows under their headers (nothing when there are none), the columns named in ``right`` right-aligned.

    In a terminal, long cells fold onto more lines to fit its width; piped, every row stays on one line.
    """
    from comply.files.tables import UNBOUNDED, text_table

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else UNBOUNDED
    table = text_table(headers, rows, right=right, width=width)
    if table:
        click.echo(table)


def open_llm(settings: Settings, no_llm: bool, quiet: bool) -> Backend:
    """The LLM backend (none with ``no_llm``); a model's start-up progress goes to stderr unless ``quiet``."""
    from comply.llm.backend import open_backend

    return open_backend(settings.model_copy(update={"llm_mode": "off"}) if no_llm else settings, progress=not quiet)


EXIT_BUSY = 75  # EX_TEMPFAIL: the database is held or was changed by another process; retry later


def explain(exc: Exception) -> tuple[str, int] | None:
    """The message and exit code for a missing index or file, an over-long question or a missing audit key (1), a
    database that cannot be opened (1), or one that another process holds or changed first (``EXIT_BUSY``, nothing
    was changed); None for anything else."""
    import duckdb

    from assistant.qa.answer import QuestionTooLong
    from comply.audit_key import AuditKeyError
    from comply.db import DatabaseBusyError
    from retrieval.search import NoIndexError

    if isinstance(exc, DatabaseBusyError):
        return str(exc), EXIT_BUSY
    if isinstance(exc, (NoIndexError, FileNotFoundError, QuestionTooLong, AuditKeyError)):
        return str(exc), 1
    if isinstance(exc, duckdb.IOException):
        return f"无法打开数据库 {current_settings().db_path}：{exc}", 1
    return None
