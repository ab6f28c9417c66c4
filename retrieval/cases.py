"""Penalty and supervisory cases as the caller may see them: filters, facets, search, details and cited clauses.

Every query takes the caller's clearance and applies it in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from comply.db import rows_as_dicts
from comply.levels import level_name
from retrieval.search import Searcher


@dataclass(frozen=True)
class CaseFilter:
    """Filters on the case list; None means any."""

    authority: str | None = None
    year: str | None = None
    measure_type: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class CaseFacets:
    """The values each case filter can take, among the cases visible at a clearance."""

    authorities: list[str]
    years: list[str]
    measure_types: list[str]
    tags: list[str]


_VISIBLE_CASES = "FROM cases WHERE state = 'live' AND level <= ?"


def case_facets(con: duckdb.DuckDBPyConnection, clearance: int) -> CaseFacets:
    """Distinct authorities, years (newest first), measure types and violation tags of visible cases."""
    def distinct(expr: str, order: str = "1") -> list[str]:
        sql = f"SELECT DISTINCT {expr} AS v {_VISIBLE_CASES} AND {expr} IS NOT NULL AND {expr} <> '' ORDER BY {order}"
        return [r[0] for r in con.execute(sql, [clearance]).fetchall()]

    tags = con.execute(
        f"SELECT DISTINCT t FROM (SELECT unnest(CAST(tags AS VARCHAR[])) AS t {_VISIBLE_CASES}) WHERE t <> '' ORDER BY t",
        [clearance],
    ).fetchall()
    return CaseFacets(distinct("authority"), distinct("left(date, 4)", "1 DESC"), distinct("measure_type"), [r[0] for r in tags])


def list_cases(
    con: duckdb.DuckDBPyConnection, clearance: int, flt: CaseFilter = CaseFilter(), ids: Sequence[str] | None = None, limit: int = 500
) -> list[dict]:
    """Visible cases matching the filters: newest first, or in the order of ``ids`` when given (search results)."""
    rows = rows_as_dicts(con.execute(
        "SELECT case_id, title, authority, date, measure_type, penalty, "
        "coalesce(violation_summary, left(full_text, 160)) AS summary, CAST(tags AS VARCHAR[]) AS tags, level "
        f"{_VISIBLE_CASES} "
        "AND (? IS NULL OR authority = ?) AND (? IS NULL OR left(date, 4) = ?) AND (? IS NULL OR measure_type = ?) "
        "AND (? IS NULL OR list_contains(CAST(tags AS VARCHAR[]), ?)) "
        "AND (? IS NULL OR list_contains(?, case_id)) ORDER BY date DESC NULLS LAST, case_id LIMIT ?",
        [clearance, flt.authority, flt.authority, flt.year, flt.year, flt.measure_type, flt.measure_type,
         flt.tag, flt.tag, None if ids is None else list(ids), None if ids is None else list(ids), limit],
    ))
    for r in rows:
        r["level"] = level_name(r["level"])
    if ids is not None:
        rank = {case_id: n for n, case_id in enumerate(ids)}
        rows.sort(key=lambda r: rank[r["case_id"]])
    return rows


def find_cases(searcher: Searcher, clearance: int, query: str, flt: CaseFilter = CaseFilter(), k: int = 30) -> list[dict]:
    """Cases matching the filters: the closest by conduct to ``query`` when given (most similar first), else all."""
    ids = [h.case_id for h in searcher.search_cases(query, k=k, clearance=clearance)] if query.strip() else None
    return list_cases(searcher.con, clearance, flt, ids)


def case_detail(con: duckdb.DuckDBPyConnection, case_id: str, clearance: int) -> dict | None:
    """One visible case with all its fields (None when it does not exist or is above the clearance)."""
    rows = rows_as_dicts(con.execute(
        "SELECT case_id, title, authority, date, doc_number, party, party_type, measure_type, penalty, "
        "violation_summary, CAST(tags AS VARCHAR[]) AS tags, full_text, source, level "
        f"{_VISIBLE_CASES} AND case_id = ?", [clearance, case_id]
    ))
    if not rows:
        return None
    rows[0]["level"] = level_name(rows[0]["level"])
    return rows[0]


CITATION_ROLES = {"violated": "违反条款", "penalty": "处罚依据", "text": "正文引用"}


def case_clauses(con: duckdb.DuckDBPyConnection, case_id: str, clearance: int) -> list[dict]:
    """The provisions a visible case cites, each with its clause when that is live and within clearance.

    Rows: ``role`` (Chinese), ``raw`` (the citation as written), and ``chunk_id``/``doc_title``/``article``/
    ``path``/``text``/``level`` (None when the citation is not linked or its clause is not visible), ``note``.
    """
    rows = rows_as_dicts(con.execute(
        "SELECT DISTINCT l.role, l.raw, l.note, k.chunk_id, d.doc_key AS doc_title, k.article, k.path, k.text, d.level "
        "FROM case_citations l JOIN cases c ON c.case_id = l.case_id AND c.state = 'live' AND c.level <= ? "
        "LEFT JOIN (chunks k JOIN documents d ON d.doc_id = k.doc_id AND d.state = 'live' AND d.level <= ?) "
        "ON k.chunk_id = l.chunk_id WHERE l.case_id = ? "
        "ORDER BY CASE l.role WHEN 'violated' THEN 0 WHEN 'penalty' THEN 1 ELSE 2 END, l.raw",
        [clearance, clearance, case_id],
    ))
    for r in rows:
        r["role"] = CITATION_ROLES.get(r["role"], r["role"])
        r["level"] = None if r["level"] is None else level_name(r["level"])
    return rows
