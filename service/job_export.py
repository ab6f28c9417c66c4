"""A batch job's results as an Excel sheet (the API's export and the 批量审核 page's download)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import duckdb

from comply.config import Settings
from comply.files.office import safe_cell
from review.export import category_name
from review.taxonomy import load_taxonomy
from service.jobs import Job, job_items

EXPORT_COLUMNS = ("编号", "状态", "问题数", "问题（类别：片段）", "错误")
STATE_NAMES = {"pending": "待审核", "done": "已完成", "error": "出错"}
_EXPORT_PAGE = 500


def result_rows(con: duckdb.DuckDBPyConnection, settings: Settings, job: Job) -> Iterator[tuple]:
    """Every item of the job as (编号, 状态, 问题数, 问题（类别：片段）, 错误), in order."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    for offset in range(0, job.total, _EXPORT_PAGE):
        for item in job_items(con, job.job_id, offset, _EXPORT_PAGE):
            findings = item.get("result", {}).get("findings", [])
            problems = "\n".join(f"{category_name(taxonomy, f['category'])}：{f['span']}" for f in findings)
            yield (item["id"] or f"#{item['seq']}", STATE_NAMES.get(item["state"], item["state"]),
                   len(findings) if item["state"] == "done" else None, problems, item.get("error") or "")


def export_xlsx(con: duckdb.DuckDBPyConnection, settings: Settings, job: Job) -> bytes:
    """A one-sheet workbook with :data:`EXPORT_COLUMNS`; text that a spreadsheet would read as a formula stays text."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("审核结果")
    sheet.append(EXPORT_COLUMNS)
    for row in result_rows(con, settings, job):
        sheet.append([safe_cell(ILLEGAL_CHARACTERS_RE.sub("", v)) if isinstance(v, str) else v for v in row])
    buf = io.BytesIO()
    workbook.save(buf)
    return buf.getvalue()
