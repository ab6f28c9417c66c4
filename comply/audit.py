"""The tamper-evident audit log.

Every row hashes the previous row's hash and its own canonical content, and carries the installation key's
signature of that hash; signed checkpoints of the head, kept outside the table (:mod:`comply.audit_anchor`),
reveal rows deleted from the end. Someone who can write the database but cannot read the key is caught when
they edit, recompute, forge or insert a row, or delete rows up to the last checkpoint; deleting only rows
written after the last checkpoint, and anything done by someone who holds the key, stays undetectable.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import duckdb

from comply.audit_anchor import (
    CHECKPOINT_EVERY,
    GENESIS,
    Anchor,
    AnchorBroken,
    Checkpoint,
    anchor_for,
    anchor_of,
    bind,
    committed_head,
    last_sealed_rows,
    read_checkpoints,
    write_checkpoint,
)
from comply.audit_key import AuditKey, AuditKeyError, create_key, load_key, require_key
from comply.config import Settings

__all__ = ["GENESIS", "ChainReport", "append", "bind", "canonical", "row_hash", "seal", "verify"]


def canonical(record: dict) -> str:
    """Serialise a record deterministically (sorted keys, no whitespace, UTF-8 kept)."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def row_hash(prev_hash: str, seq: int, ts: str, actor: str, action: str, target: str | None, detail: dict) -> str:
    """SHA-256 of the previous hash joined with this row's canonical content."""
    content = canonical({"seq": seq, "ts": ts, "actor": actor, "action": action, "target": target, "detail": detail})
    return hashlib.sha256((prev_hash + "\n" + content).encode("utf-8")).hexdigest()


def _signing_key(con: duckdb.DuckDBPyConnection, anchor: Anchor) -> AuditKey:
    """The installation's key; made on first use, when the rows written so far are sealed as checkpoint 1."""
    key = load_key(anchor.key_file)
    if key is not None:
        return key
    if anchor.checkpoints_file.exists() or anchor.head_file.exists():
        return require_key(anchor.key_file)  # sealed before: a lost key is an error, never silently replaced
    key = create_key(anchor.key_file)
    _seal_committed(con, anchor, key)
    return key


def _seal_committed(con: duckdb.DuckDBPyConnection, anchor: Anchor, key: AuditKey) -> Checkpoint | None:
    """Checkpoint the committed head; None when the anchor is broken (left as it is, for verify to report)."""
    rows, head = committed_head(con)
    try:
        return write_checkpoint(anchor, key, rows, head)
    except AnchorBroken:
        return None


def append(
    con: duckdb.DuckDBPyConnection, actor: str, action: str, target: str | None = None, detail: dict | None = None
) -> int:
    """Append one signed event to the chain (inside the caller's transaction, if any); return its sequence number.

    Every :data:`CHECKPOINT_EVERY` committed rows the head is checkpointed.
    """
    detail = detail or {}
    anchor = anchor_for(con)
    key = _signing_key(con, anchor)
    last = con.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ts = datetime.now(UTC).isoformat(timespec="microseconds")
    digest = row_hash(prev, seq, ts, actor, action, target, detail)
    con.execute(
        "INSERT INTO audit_log (seq, ts, actor, action, target, detail, prev_hash, hash, sig) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [seq, ts, actor, action, target, canonical(detail), prev, digest, key.sign(digest)],
    )
    sealed = last_sealed_rows(anchor) or 0
    if seq - sealed >= CHECKPOINT_EVERY and committed_head(con)[0] - sealed >= CHECKPOINT_EVERY:
        _seal_committed(con, anchor, key)
    return seq


@dataclass(frozen=True)
class ChainReport:
    """Outcome of verifying the chain against its signatures and checkpoints."""

    ok: bool
    rows: int
    first_broken_seq: int | None = None
    reason: str = ""
    checkpoints: int = 0

    def summary(self) -> str:
        """The outcome in one Chinese sentence, as the command line and the 审计日志 page show it."""
        if self.ok:
            return f"审计链完整：共 {self.rows} 条记录，{self.checkpoints} 个签名锚点，未发现篡改"
        if self.first_broken_seq is None:
            return f"审计链校验失败：{self.reason}"
        return f"审计链断裂：第一条异常记录 seq={self.first_broken_seq}，{self.reason}"


Problem = tuple[int, str]  # the first broken row and why


def _walk(
    rows: list[tuple], key: AuditKey | None, unsigned_upto: int | None, wanted: set[int]
) -> tuple[Problem | None, dict[int, str]]:
    """Recompute the chain from the first row; the first problem and the hashes at the ``wanted`` rows.

    Rows up to ``unsigned_upto`` (every row when None: no key was ever made) may be unsigned.
    """
    prev, heads = GENESIS, {}
    for expected, (seq, ts, actor, action, target, detail, prev_hash, digest, sig) in enumerate(rows, start=1):
        if seq != expected:
            return (seq, f"序号不连续：期望 {expected}，实际 {seq}（有记录被删除或插入）"), heads
        content = (seq, ts, actor, action, target, json.loads(detail) if detail else {})
        if prev_hash != prev:
            if expected > 1 and row_hash(prev_hash, *content) == digest:
                return (seq - 1, "该行被改写并重新计算了哈希（下一行仍指向它原来的哈希）"), heads
            return (seq, "前一条哈希不匹配（该行的链接被改写）"), heads
        if row_hash(prev, *content) != digest:
            return (seq, "内容哈希不匹配（该行被篡改）"), heads
        if sig:
            if key is None:
                return (seq, "该行带有签名，但审计签名密钥缺失，无法校验（请恢复密钥文件）"), heads
            if not key.verifies(digest, sig):
                return (seq, "签名无效（该行被改写或伪造后重新计算了哈希）"), heads
        elif unsigned_upto is not None and seq > unsigned_upto:
            return (seq, "缺少签名（该行不是由本系统写入的）"), heads
        if seq in wanted:
            heads[seq] = digest
        prev = digest
    return None, heads


def _against_checkpoints(rows: list[tuple], heads: dict[int, str], checkpoints: list[Checkpoint]) -> Problem | None:
    """Rows deleted from the end, or a chain recomputed, since a checkpoint was written."""
    floor = 0
    for cp in checkpoints:
        if cp.rows < floor:
            return cp.rows + 1, f"第 {cp.seq} 号锚点记录的条数（{cp.rows}）少于之前的锚点（{floor}）：记录曾被截断"
        if cp.rows > len(rows):
            return len(rows) + 1, f"记录被截断：第 {cp.seq} 号锚点记录了 {cp.rows} 条，现在只有 {len(rows)} 条"
        if cp.rows and heads.get(cp.rows) != cp.head_hash:
            return cp.rows, f"第 {cp.rows} 条的哈希与第 {cp.seq} 号锚点不符（链被整体重算）"
        floor = cp.rows
    return None


def verify(con: duckdb.DuckDBPyConnection, settings: Settings | None = None) -> ChainReport:
    """Check every row's link, hash and signature, then the checkpoints; name the first broken row and why.

    ``settings`` names the key (default: the one bound to, or configured for, the database's folder).
    Reading only: nothing is written.
    """
    anchor = anchor_of(settings) if settings else anchor_for(con)
    rows = con.execute(
        "SELECT seq, ts, actor, action, target, CAST(detail AS VARCHAR), prev_hash, hash, sig FROM audit_log ORDER BY seq"
    ).fetchall()
    try:
        key = load_key(anchor.key_file)
        checkpoints = read_checkpoints(anchor, key)
    except (AnchorBroken, AuditKeyError) as exc:
        return ChainReport(False, len(rows), None, str(exc))
    if key is not None and not checkpoints and rows:
        return ChainReport(False, len(rows), None, f"锚点文件 {anchor.checkpoints_file} 缺失（本安装已建立签名密钥）")
    unsigned_upto = checkpoints[0].rows if checkpoints else (None if key is None else 0)
    problem, heads = _walk(rows, key, unsigned_upto, {cp.rows for cp in checkpoints})
    problem = problem or _against_checkpoints(rows, heads, checkpoints)
    if problem:
        return ChainReport(False, len(rows), problem[0], problem[1], len(checkpoints))
    return ChainReport(True, len(rows), checkpoints=len(checkpoints))


def seal(con: duckdb.DuckDBPyConnection, settings: Settings) -> ChainReport:
    """Verify; when the chain is intact, checkpoint its committed head (the key is made on first use)."""
    bind(settings)
    report = verify(con, settings)
    if not report.ok:
        return report
    anchor = anchor_of(settings)
    cp = _seal_committed(con, anchor, _signing_key(con, anchor))
    if cp is None:
        return ChainReport(False, report.rows, None, "锚点文件与密钥旁的副本不符，已停止写入新锚点", report.checkpoints)
    return replace(report, checkpoints=cp.seq)
