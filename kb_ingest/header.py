"""The document header: title, issuer, 文号, dates and status, read from the text before the body."""

from __future__ import annotations

import re
from dataclasses import dataclass

from comply.lawtext.numerals import NUMERAL

_INFO_END = "<!-- INFO END -->"
_ISSUERS = (
    "全国人民代表大会常务委员会",
    "全国人民代表大会",
    "最高人民法院、最高人民检察院",
    "最高人民法院",
    "最高人民检察院",
    "国务院",
    "中国证券监督管理委员会",
    "中国人民银行",
    "国家市场监督管理总局",
    "国家工商行政管理总局",
    "国家互联网信息办公室",
    "中国证券业协会",
    "中国证券投资基金业协会",
)
_DOC_NUMBER = re.compile(
    r"((?:[\u4e00-\u9fa5]{1,16}令|主席令|法释|[\u4e00-\u9fa5]{1,10}发|[\u4e00-\u9fa5]{1,10}字|证监会公告)"
    r"\s*(?:第\s*\d+\s*号|[〔\[（(]\d{4}[〕\]）)]\s*(?:第\s*)?\d+\s*号))"
)
_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_STATUS = re.compile(r"(现行有效|已废止|已失效|部分失效|已被修改|尚未生效)")
_BODY_START = re.compile(rf"^\s*(#+\s*)?第{NUMERAL}[编章节条]", re.M)


@dataclass(frozen=True)
class DocHeader:
    """Metadata found in a document's header."""

    title: str
    issuer: str | None = None
    doc_number: str | None = None
    version_date: str | None = None
    status: str | None = None
    text: str = ""
    status_note: str | None = None


def split_header(text: str, fallback_title: str) -> tuple[DocHeader, str]:
    """Split text into its header and body, and parse the header.

    The corpus' Markdown files end the header with ``<!-- INFO END -->``; other files end it at
    the first 编/章/节/条 heading (or after the title line when there is none).
    """
    lines = text.splitlines()
    title = fallback_title
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None:
        candidate = lines[first].strip().lstrip("#").strip()
        if len(candidate) <= 80 and not _BODY_START.match(lines[first]):
            title = candidate
            lines = lines[first + 1 :]
    rest = "\n".join(lines)
    if _INFO_END in rest:
        header_text, body = rest.split(_INFO_END, 1)
    else:
        match = _BODY_START.search(rest)
        header_text, body = (rest[: match.start()], rest[match.start() :]) if match else ("", rest)
    return parse_header(title, header_text.strip()), body


_JOINT_COURTS = ("最高人民法院", "最高人民检察院")
# Words that can run straight into a 文号 in unspaced headers ("…4月23日中华人民共和国国务院令第522号").
_NUMBER_LEAD = re.compile(r"^.*(?:日|通过|公布|发布|印发|施行|会议|根据)")


def _find_issuer(title: str, header_text: str) -> str | None:
    """The issuer: named at the start of the title, else the one named first in the header.

    A judicial interpretation of both 最高人民法院 and 最高人民检察院 has the joint issuer, and a law
    whose header names the NPC Standing Committee has it (it adopted or amended the text in force).
    Position, not the order of ``_ISSUERS``, decides otherwise: a CSRC rule whose header cites a
    《国务院关于…》 amendment is still the CSRC's.
    """
    title_head = title.split("关于", 1)[0]
    if all(court in title_head for court in _JOINT_COURTS) or (
        title.startswith(_JOINT_COURTS) and all(court in header_text for court in _JOINT_COURTS)
    ):
        return "最高人民法院、最高人民检察院"
    from_title = next((name for name in _ISSUERS if title.startswith(name)), None)
    if from_title:
        return from_title
    if "全国人民代表大会常务委员会" in header_text:
        return "全国人民代表大会常务委员会"  # a law the NPC adopted is amended by its Standing Committee
    found = [(header_text.find(name), -len(name), name) for name in _ISSUERS if name in header_text]
    return min(found)[2] if found else None


def _clean_doc_number(raw: str) -> str:
    """Drop whitespace and any date or verb the 文号 pattern swallowed in front of the issuer."""
    number = re.sub(r"\s+", "", raw)
    if "中华人民共和国" in number:
        return number[number.index("中华人民共和国") :]
    trimmed = _NUMBER_LEAD.sub("", number)
    return trimmed if trimmed and trimmed[0] not in "令发字〔[（(第" else number


def parse_header(title: str, header_text: str) -> DocHeader:
    """Extract issuer, 文号, latest date and status from header text."""
    number = _DOC_NUMBER.search(header_text)
    dates = [f"{y}-{int(m):02d}-{int(d):02d}" for y, m, d in _DATE.findall(header_text)]
    status = _STATUS.search(header_text)
    return DocHeader(
        title=title,
        issuer=_find_issuer(title, header_text),
        doc_number=_clean_doc_number(number.group(1)) if number else None,
        version_date=max(dates) if dates else None,
        status=status.group(1) if status else None,
        text=header_text,
    )
