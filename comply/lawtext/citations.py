"""Parsing citations of provisions, e.g. 《证券法》第五十六条、第一百九十三条 or 广告法第九条第三项."""

from __future__ import annotations

import re
from dataclasses import dataclass

from comply.lawtext.numerals import NUMERAL as _N
from comply.lawtext.numerals import cn_to_int

# Items may be enumerated before one 项: 第（一）、（七）、（九）项.
_ITEMS = rf"第?[（(]?{_N}[）)]?(?:、[（(]?{_N}[）)]?)*项"
_REF = rf"第{_N}条(?:第{_N}款)?(?:{_ITEMS})?"
# A 款 or 项 after a separator continues the article before it: 第一百九十三条第二款、第三款.
_PART = rf"第{_N}款(?:{_ITEMS})?|{_ITEMS}"
_LAW_BRACKETED = r"《([^《》]{2,60})》"
_LAW_BARE = r"((?:中华人民共和国)?[\u4e00-\u9fa5、]{1,30}?(?:法|条例|办法|规定|解释|规则|细则|指引))"
_YEAR = r"(?:(\d{4})\s*年\s*(?:修订|修正|版)?的?\s*)?"
_TAIL = r"(?:\s*[（(][^（）()]{0,40}[）)])?"
_LIST = rf"{_REF}(?:\s*(?:、|，|,|和|及|以及)\s*(?:{_REF}|{_PART}))*"
_CITATION = re.compile(rf"{_YEAR}(?:{_LAW_BRACKETED}|{_LAW_BARE}){_TAIL}\s*({_LIST})")
_TOKEN = re.compile(rf"第({_N})条|第({_N})款|({_ITEMS})")
_ITEM_NUMBER = re.compile(_N)
_PAREN_YEAR = re.compile(r"[（(](\d{4})\s*年")
# A bare (unbracketed) law name swallows the words before it: "依据基金法" → "基金法".
_BARE_LEAD = re.compile(r"^.*(?:依据|根据|依照|按照|遵照|违反了?|违背了?|触犯了?|符合)")


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
        from comply.lawtext.numerals import int_to_cn

        return f"第{int_to_cn(self.article_no)}条"


def normalize_law_name(name: str) -> str:
    """Normalise a law name for matching: no brackets, spaces or the 中华人民共和国 prefix."""
    name = re.sub(r"[《》\s　]", "", name)
    return name.removeprefix("中华人民共和国")


def _refs(listing: str) -> list[tuple[int, int | None, int | None]]:
    """(article, 款, 项) triples of a reference list; a bare 款/项 inherits the article before it."""
    out: list[tuple[int, int | None, int | None]] = []
    article: int | None = None
    paragraph: int | None = None
    items: list[int] = []
    pending = False

    def flush() -> None:
        if not pending or article is None:
            return
        for item in items or [None]:
            out.append((article, paragraph, item))

    for token in _TOKEN.finditer(listing):
        art, par, item_text = token.groups()
        if art:
            flush()
            article, paragraph, items, pending = cn_to_int(art), None, [], True
        elif par:
            if pending and paragraph is None and not items:
                paragraph = cn_to_int(par)
            else:
                flush()
                paragraph, items, pending = cn_to_int(par), [], True
        else:
            numbers = [cn_to_int(n) for n in _ITEM_NUMBER.findall(item_text)]
            if pending and not items:
                items = numbers
            else:
                flush()
                items, pending = numbers, True
    flush()
    return out


def _law_name(bracketed: str | None, bare: str | None) -> str:
    if bracketed:
        return bracketed
    return _BARE_LEAD.sub("", bare or "") or (bare or "")


def parse_citations(text: str) -> list[Citation]:
    """Find every provision citation in text; an enumeration after one law name cites that law each time.

    第十三条第（一）、（七）、（九）项 gives three citations, and 第一百九十三条第二款、第三款 two.
    """
    out: list[Citation] = []
    for match in _CITATION.finditer(text):
        law = _law_name(match.group(2), match.group(3))
        year = match.group(1)
        if year is None:
            paren = _PAREN_YEAR.search(match.group(0))
            year = paren.group(1) if paren else None
        for article_no, paragraph_no, item_no in _refs(match.group(4)):
            out.append(
                Citation(
                    raw=match.group(0).strip(),
                    law=law,
                    article_no=article_no,
                    paragraph_no=paragraph_no,
                    item_no=item_no,
                    year=int(year) if year else None,
                )
            )
    return out
