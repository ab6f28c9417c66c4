"""Parsing citations of provisions, e.g. 《证券法》第五十六条、第一百九十三条 or 广告法第九条第三项."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb_ingest.numerals import cn_to_int

_N = r"[〇零一二三四五六七八九十百千两\d]+"
_REF = rf"第({_N})条(?:第({_N})款)?(?:第?[（(]?({_N})[）)]?项)?"
_LAW_BRACKETED = r"《([^《》]{2,60})》"
_LAW_BARE = r"((?:中华人民共和国)?[\u4e00-\u9fa5、]{1,30}?(?:法|条例|办法|规定|解释|规则|细则|指引))"
_YEAR = r"(?:(\d{4})\s*年\s*(?:修订|修正|版)?\s*)?"
_TAIL = r"(?:\s*[（(][^（）()]{0,40}[）)])?"
_LIST = rf"{_REF}(?:\s*(?:、|，|,|和|及|以及)\s*{_REF})*"
_CITATION = re.compile(rf"{_YEAR}(?:{_LAW_BRACKETED}|{_LAW_BARE}){_TAIL}\s*({_LIST})")
_ONE_REF = re.compile(_REF)
_PAREN_YEAR = re.compile(r"[（(](\d{4})\s*年")


@dataclass(frozen=True)
class Citation:
    """One cited article (with optional 款 and 项) of a named law."""

    raw: str
    law: str
    article_no: int
    paragraph_no: int | None = None
    item_no: int | None = None
    year: int | None = None

    @property
    def article(self) -> str:
        """The article label as written in statutes, e.g. 第八十条."""
        from kb_ingest.numerals import int_to_cn

        return f"第{int_to_cn(self.article_no)}条"


def normalize_law_name(name: str) -> str:
    """Normalise a law name for matching: no brackets, spaces or the 中华人民共和国 prefix."""
    name = re.sub(r"[《》\s　]", "", name)
    return name.removeprefix("中华人民共和国")


def parse_citations(text: str) -> list[Citation]:
    """Find every provision citation in text; an enumeration after one law name cites that law each time."""
    out: list[Citation] = []
    for match in _CITATION.finditer(text):
        law = match.group(2) or match.group(3)
        year = match.group(1)
        if year is None:
            paren = _PAREN_YEAR.search(match.group(0))
            year = paren.group(1) if paren else None
        for ref in _ONE_REF.finditer(match.group(4)):
            out.append(
                Citation(
                    raw=match.group(0).strip(),
                    law=law,
                    article_no=cn_to_int(ref.group(1)),
                    paragraph_no=cn_to_int(ref.group(2)) if ref.group(2) else None,
                    item_no=cn_to_int(ref.group(3)) if ref.group(3) else None,
                    year=int(year) if year else None,
                )
            )
    return out
