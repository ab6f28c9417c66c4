"""Penalty and supervisory-measure decisions from JSONL (the format of shared/corpus/cases)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from comply.files.errors import ReadError
from comply.files.limits import oversize_message
from comply.files.readers import decode_text
from comply.lawtext.citations import Citation, parse_citations

_CASE_NUMBER = re.compile(r"([\u4e00-\u9fa5]{0,12}[〔\[]\d{4}[〕\]]\s*\d+\s*号)")
_DECISION_NUMBER = re.compile(r"决定书\s*[（(]?([\u4e00-\u9fa5]{0,8}[〔\[]\d{4}[〕\]]\s*\d+\s*号)")
_TEXT_FIELDS = ("title", "authority", "date", "party", "party_type", "measure_type", "penalty", "violation_summary", "text_type", "full_text", "source")


@dataclass(frozen=True)
class CaseRecord:
    """One decision, with the provisions it cites by role (violated / penalty / text)."""

    case_id: str
    fields: dict
    content_hash: str
    raw: dict
    citations: list[tuple[str, Citation]] = field(default_factory=list)
    source_path: str | None = None

    @property
    def title(self) -> str:
        """The decision's title."""
        return self.fields["title"]

    def search_text(self) -> str:
        """Text indexed for similar-case search: title, conduct, tags and the decision text."""
        f = self.fields
        tags = " ".join(f.get("tags") or [])
        return "\n".join(x for x in (f["title"], f.get("violation_summary") or "", tags, f.get("full_text") or "") if x)


def _as_list(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def parse_case(obj: object, line_no: int) -> CaseRecord:
    """Validate one JSON object as a case.

    Raises:
        ReadError: ``invalid`` when required fields are missing or of the wrong type.
    """
    if not isinstance(obj, dict):
        raise ReadError("invalid", f"第 {line_no} 行：不是 JSON 对象")
    case_id, title = obj.get("id"), obj.get("title")
    if not isinstance(case_id, str) or not case_id.strip() or not isinstance(title, str) or not title.strip():
        raise ReadError("invalid", f"第 {line_no} 行：缺少 id 或 title")
    fields = {k: (None if obj.get(k) in (None, "") else str(obj.get(k))) for k in _TEXT_FIELDS}
    fields["title"] = title.strip()
    fields["tags"] = _as_list(obj.get("violation_tags"))
    fields["legal_basis_violated"] = _as_list(obj.get("legal_basis_violated"))
    fields["legal_basis_penalty"] = _as_list(obj.get("legal_basis_penalty"))
    fields["marketing_related"] = bool(obj.get("marketing_related"))
    number = _CASE_NUMBER.search(title) or _DECISION_NUMBER.search(fields.get("full_text") or "")
    fields["doc_number"] = re.sub(r"\s+", "", number.group(1)) if number else None
    citations: list[tuple[str, Citation]] = []
    for role, texts in (("violated", fields["legal_basis_violated"]), ("penalty", fields["legal_basis_penalty"]), ("text", [fields.get("full_text") or ""])):
        for text in texts:
            citations += [(role, c) for c in parse_citations(text)]
    digest = hashlib.sha256(json.dumps(obj, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    return CaseRecord(case_id.strip(), fields, digest, obj, citations)


def read_cases(path: Path, max_bytes: int) -> tuple[list[CaseRecord], list[str]]:
    """Read a case JSONL file; return the valid cases and one message per bad line.

    Raises:
        ReadError: when the whole file is oversize, empty or undecodable.
    """
    size = path.stat().st_size
    if size > max_bytes:
        raise ReadError("oversize", oversize_message(path.name, size, max_bytes))
    text = decode_text(path.read_bytes(), path.name)
    cases, problems, seen = [], [], set()
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = replace(parse_case(json.loads(line), line_no), source_path=str(path.resolve()))
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name} 第 {line_no} 行：JSON 格式错误（{exc.msg}）")
            continue
        except ReadError as exc:
            problems.append(f"{path.name} {exc.message}")
            continue
        if record.case_id in seen:
            problems.append(f"{path.name} 第 {line_no} 行：案例编号 {record.case_id} 重复，已跳过")
            continue
        seen.add(record.case_id)
        cases.append(record)
    if not cases and not problems:
        raise ReadError("empty", f"{path.name}：没有任何案例")
    return cases, problems
