"""Knowledge-base page helpers: uploaded files onto disk for ingest, and the ingest report as table rows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from kb_ingest.ingest import IngestReport

STATUS_NAMES = {
    "added": "新增", "replaced": "替换旧版本", "unchanged": "未变", "held": "待审（命中敏感词）",
    "level_changed": "密级变更", "cases": "案例", "error": "失败",
}


class Upload(Protocol):
    """What is needed of an uploaded file (Streamlit's ``UploadedFile``)."""

    name: str

    def getvalue(self) -> bytes: ...


def save_uploads(folder: Path, uploads: Iterable[Upload]) -> list[Path]:
    """Write uploads into ``folder`` under their own base names (a document's identity is its file name).

    A later upload with the same name as an earlier one is written beside it with a numbered prefix,
    so the ingest reports it as a duplicate instead of silently dropping it.
    """
    paths: list[Path] = []
    for n, upload in enumerate(uploads):
        name = Path(upload.name.replace("\\", "/")).name or f"upload-{n}"
        path = folder / name
        if path.exists():
            path = folder / f"{n}" / name
            path.parent.mkdir()
        path.write_bytes(upload.getvalue())
        paths.append(path)
    return paths


def ingest_rows(report: IngestReport) -> list[dict]:
    """One row per result: 文件, 结果, 说明, 分段数, 敏感词."""
    return [
        {"文件": Path(f.path).name, "结果": STATUS_NAMES.get(f.status, f.status), "说明": f.message,
         "分段数": f.chunks or None, "敏感词": "、".join(dict.fromkeys(h["match"] for h in f.flags))}
        for f in report.files
    ]
