"""The CSRC rule catalogue (``catalog/*.csv``): 文号, issuing body and status of rules by title, and what a text's status is.

The catalogue's ``status_code`` is undocumented at its source; 1 is read as 现行有效 and 3 as 已废止 (the two codes it holds,
in the proportions the MANIFEST gives). A title with several versions (e.g. 证券投资基金销售管理办法 2004, 2011, 2013) is one
rule whose newest version decides its status. A text older than the newest version listed is reported as 已修改.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from comply.lawtext.citations import normalize_law_name

CURRENT, AMENDED, REPEALED = "现行有效", "已修改", "已废止"
_STATUS_CODES = {"1": CURRENT, "3": REPEALED}
# Trailing version remarks: 中华人民共和国证券法(2019修订), and notes in citations such as
# 《公开募集证券投资基金销售机构监督管理办法（证监会令第175号，2020年）》. A bracket without a year or 文号 is part of the
# title (…业务问答（一） and （三） are different rules; （试行） too is kept).
_REMARK = re.compile(r"(?:[（(][^（()）]*(?:\d{4}|令|公告|号)[^（()）]*[）)]\s*)+$")


def title_key(title: str) -> str:
    """A title normalised for matching: no trailing version remark, no 《》, spaces or 中华人民共和国 prefix."""
    return normalize_law_name(_REMARK.sub("", normalize_law_name(title)))


@dataclass(frozen=True)
class CatalogVersion:
    """One catalogue row: a version of a rule."""

    title: str
    doc_number: str | None
    issuer: str | None
    pub_date: str | None
    status: str | None


@dataclass(frozen=True)
class CatalogEntry:
    """A rule as the catalogue lists it: all its versions, newest last."""

    versions: tuple[CatalogVersion, ...]

    @property
    def latest(self) -> CatalogVersion:
        """The newest version listed."""
        return self.versions[-1]

    def status_of(self, version_date: str | None) -> tuple[str | None, str]:
        """The status of a text of this rule dated ``version_date`` (None: undated), and a note saying why.

        A repealed rule is 已废止 whatever the text's date; a text older than the newest version listed is 已修改;
        otherwise the newest version's status holds.
        """
        latest = self.latest
        if len({v.status for v in self.versions if v.pub_date == latest.pub_date}) > 1:
            return None, ""  # rows of one date disagree (e.g. two exchanges' rules of one title): no status is better than a wrong one
        if latest.status == REPEALED:
            return REPEALED, f"证监会法规目录显示该规则已废止（最新所列版本 {latest.pub_date or '日期不详'}）"
        if version_date and latest.pub_date and version_date < latest.pub_date:
            number = f" {latest.doc_number}" if latest.doc_number else ""
            return AMENDED, f"证监会法规目录列有更新版本（{latest.pub_date}{number}），知识库文本为 {version_date} 版本，请核对"
        return latest.status, ""


class Catalog:
    """Catalogue entries by normalised title."""

    def __init__(self, entries: dict[str, CatalogEntry]) -> None:
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, title: str) -> CatalogEntry | None:
        """The entry for a title (as in a header or a file name), if the catalogue lists it."""
        return self._entries.get(title_key(title))

    def find_cited(self, citation: str) -> CatalogEntry | None:
        """The entry for the law a citation names (``《…》第X条``; a 《》 nested in its remark stays part of it)."""
        return self.find(cited_law(citation))


def cited_law(citation: str) -> str:
    """The law a citation names: its outer 《…》 (nested brackets kept), else the whole citation."""
    if not citation.startswith("《"):
        return citation
    depth = 0
    for i, ch in enumerate(citation):
        depth += (ch == "《") - (ch == "》")
        if depth == 0:
            return citation[1:i]
    return citation[1:]


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def read_catalog(paths: list[Path]) -> Catalog:
    """Read catalogue CSV files (columns title, doc_number, pub_date, status_code, issuer …); unreadable rows are skipped."""
    grouped: dict[str, list[CatalogVersion]] = {}
    for path in paths:
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                title = _text(row.get("title"))
                if not title:
                    continue
                version = CatalogVersion(
                    title, _text(row.get("doc_number")), _text(row.get("issuer")), _text(row.get("pub_date")),
                    _STATUS_CODES.get((row.get("status_code") or "").strip()),
                )
                grouped.setdefault(title_key(title), []).append(version)
    return Catalog({key: CatalogEntry(tuple(sorted(vs, key=lambda v: v.pub_date or ""))) for key, vs in grouped.items()})


@lru_cache(maxsize=4)
def _cached(paths: tuple[Path, ...], stamps: tuple[float, ...]) -> Catalog:
    return read_catalog(list(paths))


def load_catalog(corpus_dir: Path) -> Catalog:
    """The catalogue under ``corpus_dir/catalog`` (empty when there is none), read once per process and file change."""
    paths = tuple(sorted((corpus_dir / "catalog").glob("*.csv")))
    return _cached(paths, tuple(p.stat().st_mtime for p in paths))
