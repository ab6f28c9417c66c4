"""Index versions on disk: each is written to a temporary folder, fsynced, then renamed into place.

Which version serves is recorded in DuckDB (``index_versions``), in the same transaction as the corpus
change it belongs to, so a crash before that commit leaves the previous version serving.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from retrieval.collection import Collection, read_collection


@dataclass
class IndexVersion:
    """A loaded, immutable index version."""

    version: int
    path: Path
    chunks: Collection
    cases: Collection
    meta: dict

    @property
    def user_words(self) -> tuple[str, ...]:
        """The tokenizer dictionary the BM25 indexes were built with."""
        return tuple(self.meta.get("user_words", []))


def version_dir(root: Path, version: int) -> Path:
    """Folder of a finished version."""
    return root / f"v{version:06d}"


def new_staging_dir(root: Path, version: int) -> Path:
    """A fresh temporary folder in which a version is built."""
    root.mkdir(parents=True, exist_ok=True)
    return root / f".staging-v{version:06d}-{uuid.uuid4().hex[:8]}"


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(staging: Path, root: Path, version: int, meta: dict) -> Path:
    """Write the manifest, flush everything to disk and rename the staging folder into its final place."""
    (staging / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_tree(staging)
    final = version_dir(root, version)
    if final.exists():
        shutil.rmtree(final)
    os.rename(staging, final)
    return final


def load_version(version: int, path: Path) -> IndexVersion:
    """Load a published version."""
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    return IndexVersion(version, path, read_collection(path / "chunks"), read_collection(path / "cases"), meta)


def prune(root: Path, keep_versions: set[int]) -> list[Path]:
    """Delete staging leftovers and version folders not in ``keep_versions``; return what was removed."""
    removed = []
    if not root.is_dir():
        return removed
    for child in root.iterdir():
        stale_staging = child.name.startswith(".staging-")
        stale_version = child.name.startswith("v") and child.name[1:].isdigit() and int(child.name[1:]) not in keep_versions
        if stale_staging or stale_version:
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


def live_version(con: duckdb.DuckDBPyConnection, index_root: Path) -> tuple[int, str] | None:
    """The live index version and its folder, or None before the first build.

    The folder is recorded relative to ``index_root`` (so a data folder restored elsewhere still serves); rows written
    before that hold an absolute path, used as it is.
    """
    row = con.execute("SELECT version, path FROM index_versions WHERE state = 'live'").fetchone()
    if row is None:
        return None
    path = Path(row[1]) if row[1] else version_dir(index_root, row[0])
    return row[0], str(path if path.is_absolute() else index_root / path)
