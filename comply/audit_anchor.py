"""Signed checkpoints of the audit chain's head, kept outside the table.

Each checkpoint (row count and the hash of that row) is one line of ``audit_checkpoints.jsonl`` in the data
folder; the lines form their own hash chain and each is signed with the installation's key. The last line's
number and hash are mirrored in ``<key file>.head``, beside the key and outside the data folder, so that
deleting the file or its last lines is seen too. Only committed rows are sealed: a rolled-back transaction
can never leave a checkpoint ahead of the table.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from comply.audit_key import AuditKey, key_file
from comply.config import Settings, load_settings

GENESIS = "0" * 64
CHECKPOINT_EVERY = 50
CHECKPOINTS_FILE = "audit_checkpoints.jsonl"


class AnchorBroken(Exception):
    """The checkpoint file or its mirror does not hold together; the message says how (in Chinese)."""


@dataclass(frozen=True)
class Anchor:
    """Where one installation keeps its key and checkpoints."""

    data_dir: Path
    key_file: Path

    @property
    def checkpoints_file(self) -> Path:
        """The checkpoint lines, in the data folder."""
        return self.data_dir / CHECKPOINTS_FILE

    @property
    def head_file(self) -> Path:
        """The mirror of the last checkpoint line, beside the key."""
        return self.key_file.with_name(self.key_file.name + ".head")


_BOUND: dict[Path, Path] = {}


def anchor_of(settings: Settings) -> Anchor:
    """The anchor these settings name."""
    return Anchor(settings.data_dir.resolve(), key_file(settings))


def bind(settings: Settings) -> None:
    """Make appends to this database (in this process) sign with the key these settings name."""
    _BOUND[settings.db_path.resolve()] = key_file(settings)


def anchor_for(con: duckdb.DuckDBPyConnection) -> Anchor:
    """The anchor of the database file behind ``con``: the key bound to it, else the configured one for its folder."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0] or row[0] == ":memory:":
        raise AnchorBroken("审计日志只能写入数据库文件（不支持内存数据库）")
    db = Path(row[0]).resolve()
    if db not in _BOUND:
        _BOUND[db] = key_file(load_settings(data_dir=db.parent))
    return Anchor(db.parent, _BOUND[db])


def _dump(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    """One sealed head: checkpoint ``seq`` says the chain had ``rows`` rows, the last hashing to ``head_hash``."""

    seq: int
    rows: int
    head_hash: str
    ts: str
    prev_line_hash: str
    signature: str

    def signed_text(self) -> str:
        """What the signature covers: every field but the signature."""
        return _dump({k: v for k, v in asdict(self).items() if k != "signature"})

    def line(self) -> str:
        """The line stored in the file."""
        return _dump(asdict(self))


def _read_mirror(anchor: Anchor) -> tuple[int, str] | None:
    try:
        seq, digest = anchor.head_file.read_text(encoding="utf-8").split()
        return int(seq), digest
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise AnchorBroken(f"锚点副本 {anchor.head_file} 内容无法解析（被改动）") from exc


def read_checkpoints(anchor: Anchor, key: AuditKey | None) -> list[Checkpoint]:
    """Every checkpoint, after checking the lines' chain, their signatures and the mirror; none when never sealed."""
    mirror = _read_mirror(anchor)
    try:
        lines = anchor.checkpoints_file.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
    if not lines:
        if mirror:
            raise AnchorBroken(f"锚点文件 {anchor.checkpoints_file} 缺失或被清空（密钥旁的副本记录了第 {mirror[0]} 号锚点）")
        return []
    if key is None:
        raise AnchorBroken(f"审计签名密钥 {anchor.key_file} 缺失，无法校验锚点：请恢复该文件，或在设置 audit_key_file 中指明它的位置")
    checkpoints, prev = [], GENESIS
    for n, text in enumerate(lines, start=1):
        try:
            cp = Checkpoint(**json.loads(text))
        except (ValueError, TypeError) as exc:
            raise AnchorBroken(f"锚点文件第 {n} 行无法解析（被改动）") from exc
        if cp.seq != n:
            raise AnchorBroken(f"锚点文件第 {n} 行的编号是 {cp.seq}（有锚点被删除或插入）")
        if cp.prev_line_hash != prev:
            raise AnchorBroken(f"锚点文件第 {n} 行与上一行不衔接（有锚点被删除或改动）")
        if not key.verifies(cp.signed_text(), cp.signature):
            raise AnchorBroken(f"锚点文件第 {n} 行签名无效（被伪造或改动）")
        checkpoints.append(cp)
        prev = _sha256(text)
    if mirror != (len(lines), prev):
        raise AnchorBroken(f"锚点文件的最后一行（第 {len(lines)} 号）与密钥旁的副本不符（锚点文件被截断或替换）")
    return checkpoints


def _tail(anchor: Anchor) -> tuple[int | None, str, int] | None:
    """(number, line hash, rows) of the file's last line, unchecked; None when the file is missing or empty."""
    try:
        with anchor.checkpoints_file.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 4096))
            lines = f.read().decode("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return None
    if not lines or not lines[-1]:
        return None
    try:
        record = json.loads(lines[-1])
        return int(record["seq"]), _sha256(lines[-1]), int(record["rows"])
    except (ValueError, TypeError, KeyError):
        return None, _sha256(lines[-1]), 0


def last_sealed_rows(anchor: Anchor) -> int | None:
    """The row count of the last checkpoint (unchecked, for deciding when to seal next); None when never sealed."""
    tail = _tail(anchor)
    return None if tail is None else tail[2]


def committed_head(con: duckdb.DuckDBPyConnection) -> tuple[int, str]:
    """(rows, hash of the last row) as committed, read on a cursor of its own outside the caller's transaction."""
    cur = con.cursor()
    try:
        row = cur.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        cur.close()
    return (row[0], row[1]) if row else (0, GENESIS)


_LOCK = threading.Lock()


def write_checkpoint(anchor: Anchor, key: AuditKey, rows: int, head_hash: str) -> Checkpoint:
    """Append a signed checkpoint and update the mirror; :class:`AnchorBroken` if file and mirror disagree.

    Refusing then keeps the evidence: a new line would otherwise cover a truncated or replaced file.
    """
    with _LOCK:
        tail, mirror = _tail(anchor), _read_mirror(anchor)
        if (tail and tail[:2]) != mirror:
            raise AnchorBroken("锚点文件与密钥旁的副本不符，已停止写入新锚点：请运行 comply audit verify 查明原因")
        seq, prev = (tail[0] + 1, tail[1]) if tail and tail[0] is not None else (1, GENESIS)
        unsigned = Checkpoint(seq, rows, head_hash, datetime.now(UTC).isoformat(timespec="seconds"), prev, "")
        cp = Checkpoint(**{**asdict(unsigned), "signature": key.sign(unsigned.signed_text())})
        line = cp.line()
        with anchor.checkpoints_file.open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        _write_mirror(anchor, seq, _sha256(line))
        return cp


def _write_mirror(anchor: Anchor, seq: int, digest: str) -> None:
    temp = anchor.head_file.with_name(anchor.head_file.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f"{seq} {digest}\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, anchor.head_file)


def export_lines(anchor: Anchor) -> bytes:
    """The checkpoint file as stored (empty when never sealed)."""
    try:
        return anchor.checkpoints_file.read_bytes()
    except FileNotFoundError:
        return b""
