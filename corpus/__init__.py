"""Where the default corpus lives and what it holds (the files stay in shared/corpus; nothing is copied)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from comply.config import Settings


@dataclass(frozen=True)
class CorpusDescription:
    """The default corpus as found on disk."""

    root: Path
    regulations: list[Path]
    case_files: list[Path]
    lexicons: list[Path]
    catalog: list[Path]

    def summary(self) -> dict:
        """Counts for status displays."""
        cases = sum(1 for f in self.case_files for line in f.read_text(encoding="utf-8").splitlines() if line.strip())
        return {"root": str(self.root), "regulations": len(self.regulations), "cases": cases,
                "lexicons": len(self.lexicons), "catalog_files": len(self.catalog)}


def describe(settings: Settings) -> CorpusDescription:
    """Describe the configured corpus folder.

    Raises:
        FileNotFoundError: when the folder does not exist (with how to configure it).
    """
    root = settings.corpus_dir
    if not root.is_dir():
        raise FileNotFoundError(f"找不到语料目录 {root}（可用环境变量 COMPLY_CORPUS 或 comply.toml 的 corpus_dir 指定）")
    return CorpusDescription(
        root=root,
        regulations=sorted((root / "regulations").glob("*.md")),
        case_files=sorted((root / "cases").glob("*.jsonl")),
        lexicons=sorted((root / "lexicons").glob("*.json")),
        catalog=sorted((root / "catalog").glob("*.csv")),
    )
