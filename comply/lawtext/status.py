"""What a citation must say about the status of the text it cites (repealed, amended, or a newer version listed)."""

from __future__ import annotations

# Header or catalogue statuses that say the text is not (wholly) the one in force
NOT_CURRENT = ("已废止", "已失效", "部分失效", "已被修改", "已修改")


def status_notice(status: str | None, note: str | None = None) -> str:
    """The warning shown beside a citation of a document with this status (empty for a text in force or of unknown status)."""
    if note:
        return note
    if status and status in NOT_CURRENT:
        return f"该文件{status}，引用前请核对现行规定"
    return ""
