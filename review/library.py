"""The review library: labelled drafts in the database, from imported datasets and from reviewers' decisions.

A label says that a span of a draft violates a category (polarity 1: an imported label, an accepted finding, a
finding the review missed) or that a reviewer said it does not (polarity -1: a dismissed finding). Drafts carry a
security level; exports hold only the drafts at or below the level asked for. Imports and decisions are audited
(never the draft text, only its SHA-256).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import duckdb

from comply import audit
from comply.db import transaction
from comply.files.jsonl import read_jsonl
from comply.levels import LEVELS, level_name
from comply.text import normalise_text

DECISIONS: dict[str, int] = {"accept": 1, "dismiss": -1, "missed": 1}  # a reviewer's decision and the polarity it gives
ORIGINS: tuple[str, ...] = ("import", *DECISIONS)
OUTCOMES: dict[str, str] = {"accept": "accepted", "dismiss": "dismissed", "missed": "missed"}  # decision → stats key
REVIEWER_SOURCE = "reviewer"
MAX_REASON_CHARS = 500
MAX_MISSED_CHARS = 300  # a missed passage is one sentence at most: the whole draft as a positive would teach nothing
MAX_IMPORT_BYTES = 50 * 1024 * 1024
MAX_DRAFT_CHARS = 20_000  # as for a draft under review (settings.max_draft_chars)


@dataclass(frozen=True)
class LibraryLabel:
    """One labelled span of a library draft (offsets into its text)."""

    start: int
    end: int
    category: str
    polarity: int
    note: str
    origin: str


@dataclass(frozen=True)
class LibraryDraft:
    """One library draft and its labels."""

    id: str
    source: str
    genre: str | None
    text: str
    level: int
    labels: tuple[LibraryLabel, ...]

    @property
    def positives(self) -> tuple[LibraryLabel, ...]:
        """The spans that violate their category."""
        return tuple(label for label in self.labels if label.polarity == 1)

    @property
    def negatives(self) -> tuple[LibraryLabel, ...]:
        """The spans a reviewer said do not violate their category (dismissed findings)."""
        return tuple(label for label in self.labels if label.polarity == -1)


@dataclass(frozen=True)
class ImportResult:
    """What an import added: new drafts, drafts skipped because their text is already in the library, labels."""

    added: int
    duplicates: int
    labels: int


def text_sha256(text: str) -> str:
    """The SHA-256 (hex) of a draft's text, its identity in the library."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _known_categories(categories: Collection[str] | None) -> Collection[str]:
    """The categories given, else the ids of the configured taxonomy."""
    if categories is not None:
        return categories
    from comply.config import load_settings
    from review.taxonomy import load_taxonomy

    return load_taxonomy(load_settings().taxonomy_file).ids


def _check_category(category: str, known: Collection[str]) -> None:
    if category not in known:
        raise ValueError(f"未知的违规类别“{category}”，可选：{'、'.join(known)}")


def _parse_line(obj: dict, n: int, known: Collection[str]) -> LibraryDraft:
    """One JSONL item: text and spans normalised as drafts under review are, each span at its ``start`` when the
    item gives one (as exports do), else at its first occurrence."""
    text = normalise_text(obj["text"])
    if not text.strip():
        raise ValueError("正文为空")
    if len(text) > MAX_DRAFT_CHARS:
        raise ValueError(f"正文超过 {MAX_DRAFT_CHARS} 字")
    labels = []
    for key, polarity in (("labels", 1), ("dismissed", -1)):
        for item in obj.get(key) or []:
            span = normalise_text(item["span"])
            start = item["start"] if isinstance(item.get("start"), int) else text.find(span)
            if not span or start < 0 or text[start:start + len(span)] != span:
                raise ValueError(f"标注片段“{item['span']}”不在正文中")
            _check_category(item["category"], known)
            origin = item.get("origin") or ("import" if polarity == 1 else "dismiss")
            if origin not in ORIGINS or (polarity == -1) != (origin == "dismiss"):
                raise ValueError(f"标注来源“{origin}”无效")
            labels.append(LibraryLabel(start, start + len(span), item["category"], polarity, item.get("note_zh") or "", origin))
    genre = obj.get("genre")
    return LibraryDraft(str(obj.get("id", n)), "", None if genre is None else str(genre), text, 0, tuple(labels))


def _insert_labels(
    con: duckdb.DuckDBPyConnection, draft_id: str, labels: Sequence[LibraryLabel], reviewer: str | None, now: datetime
) -> None:
    for label in labels:
        con.execute(
            "INSERT INTO review_library_labels (draft_id, start_pos, end_pos, category, polarity, note, origin, reviewer, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [draft_id, label.start, label.end, label.category, label.polarity, label.note, label.origin, reviewer, now],
        )


def import_jsonl(
    con: duckdb.DuckDBPyConnection, path: Path, source: str, user: str, level: int = 0,
    categories: Collection[str] | None = None,
) -> ImportResult:
    """Import a labelled dataset (the format of shared/eval/dev/review_drafts.jsonl, or an export of the library).

    Drafts whose text is already in the library are skipped. All of it is added, or nothing; one
    ``review.library.import`` audit row records the source, the file's SHA-256 and the counts (none when every
    draft was already there: nothing changed).
    ``categories``: the valid category ids (default: the configured taxonomy's).

    Raises:
        ValueError: naming the line of a malformed item, a span not in its text, an unknown category, or an id
            already used by another text; or for an unknown level, an empty source, a file over 50 MB or a draft over
            20,000 characters.
    """
    if not source.strip():
        raise ValueError("请给出数据来源名称")
    if not 0 <= level < len(LEVELS):
        raise ValueError(f"未知密级 {level}")
    known = _known_categories(categories)
    if Path(path).stat().st_size > MAX_IMPORT_BYTES:
        raise ValueError(f"{path} 超过 {MAX_IMPORT_BYTES // 1024 // 1024} MB，请分批导入")
    items = read_jsonl(path, lambda obj, n: (n, _parse_line(obj, n, known)))
    file_sha = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    now = datetime.now(UTC)
    added = duplicates = n_labels = 0
    with transaction(con):
        for n, draft in items:
            digest = text_sha256(draft.text)
            if con.execute("SELECT 1 FROM review_library_drafts WHERE text_sha256 = ?", [digest]).fetchone():
                duplicates += 1
                continue
            if con.execute("SELECT 1 FROM review_library_drafts WHERE id = ?", [draft.id]).fetchone():
                raise ValueError(f"{path} 第 {n} 行格式错误：文案 id “{draft.id}”已被库中另一篇文案使用")
            con.execute(
                "INSERT INTO review_library_drafts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [draft.id, source, draft.genre, draft.text, digest, level, user, now],
            )
            _insert_labels(con, draft.id, draft.labels, None, now)
            added += 1
            n_labels += len(draft.labels)
        if added:
            audit.append(con, user, "review.library.import", source,
                         {"source": source, "file_sha256": file_sha, "level": level_name(level),
                          "added": added, "duplicates": duplicates, "labels": n_labels})
    return ImportResult(added, duplicates, n_labels)


def drafts(con: duckdb.DuckDBPyConnection, max_level: int | None = None) -> list[LibraryDraft]:
    """Every library draft (only those at or below ``max_level`` when given), ordered by id, labels by position."""
    rows = con.execute(
        "SELECT id, source, genre, text, level FROM review_library_drafts WHERE ? IS NULL OR level <= ? ORDER BY id",
        [max_level, max_level],
    ).fetchall()
    labels: dict[str, list[LibraryLabel]] = {}
    for draft_id, *fields in con.execute(
        "SELECT draft_id, start_pos, end_pos, category, polarity, note, origin FROM review_library_labels "
        "ORDER BY draft_id, start_pos, end_pos, category, polarity DESC, origin, note"
    ).fetchall():
        start, end, category, polarity, note, origin = fields
        labels.setdefault(draft_id, []).append(LibraryLabel(start, end, category, polarity, note or "", origin))
    return [LibraryDraft(i, source, genre, text, level, tuple(labels.get(i, ()))) for i, source, genre, text, level in rows]


def _label_json(text: str, label: LibraryLabel) -> dict:
    return {"span": text[label.start:label.end], "category": label.category, "note_zh": label.note, "origin": label.origin,
            "start": label.start}


def export_jsonl(con: duckdb.DuckDBPyConnection, out: TextIO, max_level: int) -> int:
    """Write the drafts at or below ``max_level`` in the evaluation format, one JSON line each; return how many.

    Violations go under ``labels`` (span, category, note_zh, origin, start), dismissed findings under ``dismissed``.
    """
    written = 0
    for draft in drafts(con, max_level):
        line = {"id": draft.id, "genre": draft.genre, "text": draft.text,
                "labels": [_label_json(draft.text, label) for label in draft.positives],
                "dismissed": [_label_json(draft.text, label) for label in draft.negatives],
                "clean": not draft.positives}
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        written += 1
    return written


def library_sha256(con: duckdb.DuckDBPyConnection) -> str:
    """A SHA-256 over the library's content (ids, genres, texts, labels), the same whatever order it was added in.

    Sources, levels, reviewers and times are not content: a re-import of an export gives the same hash.
    """
    content = [
        {"id": d.id, "genre": d.genre, "text": d.text,
         "labels": [[x.start, x.end, x.category, x.polarity, x.note, x.origin] for x in d.labels]}
        for d in drafts(con)
    ]
    return hashlib.sha256(audit.canonical(content).encode("utf-8")).hexdigest()


def _draft_for(con: duckdb.DuckDBPyConnection, text: str, genre: str | None, level: int, reviewer: str,
               now: datetime) -> tuple[str, str]:
    """The id and text SHA-256 of the library draft with this exact text, created (source 'reviewer') if needed."""
    digest = text_sha256(text)
    row = con.execute("SELECT id FROM review_library_drafts WHERE text_sha256 = ?", [digest]).fetchone()
    if row:  # a label (and its reason) from a higher clearance lifts the draft to it: a lower export never shows it
        con.execute("UPDATE review_library_drafts SET level = greatest(level, ?) WHERE id = ?", [level, row[0]])
        return row[0], digest
    draft_id = f"rev-{digest[:16]}"
    con.execute("INSERT INTO review_library_drafts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [draft_id, REVIEWER_SOURCE, genre, text, digest, level, reviewer, now])
    return draft_id, digest


def record_decision(
    con: duckdb.DuckDBPyConnection, *, text: str, start: int, end: int, category: str, decision: str, reviewer: str,
    clearance: int, reason: str = "", finding_source: str = "", rule_id: str = "", genre: str | None = None,
    categories: Collection[str] | None = None,
) -> int:
    """Record a reviewer's decision on a span of a draft; return the audit row's sequence number.

    ``decision``: 'accept' (a finding is right), 'dismiss' (a finding is wrong) or 'missed' (a violation the review
    did not find). The draft is found by its exact text, or added (source 'reviewer', at the reviewer's clearance);
    the reviewer's earlier decision on the same span and category is replaced. ``categories``: the valid category
    ids (default: the configured taxonomy's).

    Raises:
        ValueError: on an unknown decision, category or clearance, offsets outside the text, an empty reviewer,
            a reason over 500 characters, or a missed passage over 300.
    """
    if decision not in DECISIONS:
        raise ValueError(f"未知的审核结论“{decision}”，可选：{'、'.join(DECISIONS)}")
    _check_category(category, _known_categories(categories))
    if not 0 <= start < end <= len(text):
        raise ValueError(f"片段位置 {start}–{end} 超出文案范围（共 {len(text)} 字）")
    if not 0 <= clearance < len(LEVELS):
        raise ValueError(f"未知密级 {clearance}")
    if not reviewer.strip():
        raise ValueError("请给出审核人")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"理由不能超过 {MAX_REASON_CHARS} 字")
    if decision == "missed" and end - start > MAX_MISSED_CHARS:
        raise ValueError(f"漏报片段不能超过 {MAX_MISSED_CHARS} 字：请只选出违规的那一句或那几个词")
    now = datetime.now(UTC)
    with transaction(con):
        draft_id, digest = _draft_for(con, text, genre, clearance, reviewer, now)
        con.execute(
            "DELETE FROM review_library_labels WHERE draft_id = ? AND start_pos = ? AND end_pos = ? AND category = ? "
            "AND reviewer = ? AND origin IN ('accept', 'dismiss', 'missed')",
            [draft_id, start, end, category, reviewer],
        )
        con.execute(
            "INSERT INTO review_library_labels VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [draft_id, start, end, category, DECISIONS[decision], reason, decision, finding_source or None,
             rule_id or None, reviewer, now],
        )
        return audit.append(con, reviewer, "review.decision", draft_id, {
            "reviewer": reviewer, "clearance": level_name(clearance), "decision": decision, "category": category,
            "start": start, "end": end, "text_sha256": digest, "reason": reason,
            "finding_source": finding_source, "rule_id": rule_id,
        })


def decision_stats(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Reviewers' decisions per category: ``accepted``, ``dismissed`` (false positives), ``missed`` (misses).

    Decided findings with a known source are also counted as ``accepted:<source>`` / ``dismissed:<source>``.
    """
    stats: dict[str, dict[str, int]] = {}
    for category, origin, source, n in con.execute(
        "SELECT category, origin, COALESCE(finding_source, ''), COUNT(*) FROM review_library_labels "
        "WHERE origin IN ('accept', 'dismiss', 'missed') GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        counts = stats.setdefault(category, dict.fromkeys(OUTCOMES.values(), 0))
        counts[OUTCOMES[origin]] += n
        if source:
            key = f"{OUTCOMES[origin]}:{source}"
            counts[key] = counts.get(key, 0) + n
    return dict(sorted(stats.items()))


def source_totals(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Drafts and labels in the library per source."""
    rows = con.execute(
        "SELECT d.source, COUNT(DISTINCT d.id), COUNT(l.draft_id) FROM review_library_drafts d "
        "LEFT JOIN review_library_labels l ON l.draft_id = d.id GROUP BY d.source ORDER BY d.source"
    ).fetchall()
    return {source: {"drafts": n_drafts, "labels": n_labels} for source, n_drafts, n_labels in rows}
