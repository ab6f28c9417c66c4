"""Legal-structure segmentation: 编 / 章 / 节 / 条, with 款 (paragraphs) and 项 (items) inside articles."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from comply.lawtext.numerals import ITEM_NUMERAL, NUMERAL, cn_to_int

_NUM = NUMERAL
_HEADING = re.compile(rf"^#*\s*(第({_NUM})(编|章|节))[\s　]*(.*)$")
_ARTICLE = re.compile(rf"^第({_NUM})条(?:[\s　]+|(?=\S))(.*)$", re.S)
_ANNEX_RULES = re.compile(r"^#*\s*附[\s　]*则\s*$")
_ATTACHMENT = re.compile(rf"^#*\s*附件\s*(?:\d+|{ITEM_NUMERAL})?[:：]?\s*(.*)$")
_ITEM = re.compile(rf"^[（(]{ITEM_NUMERAL}[）)]")
# What follows "第八十条" when it is cited rather than headed: 规定/所称/的/第一款/至/、…
_REFERENCE_TAIL = re.compile(rf"(规定|所称|所规定|所列|的规定|第{_NUM}[款项]|(?:至|、|和|或者|或|及|以及)第{_NUM}条)")
# A heading line has no sentence punctuation: "第三章规定的情形，……。" is a paragraph, not a chapter.
_SENTENCE_PUNCT = re.compile(r"[。，；！？]")
_BLOCK_BREAK = re.compile(rf"^\s*#*\s*(第{_NUM}[编章节条]|附[\s　]*则\s*$|附件)")


@dataclass
class Article:
    """One article (条) with its place in the hierarchy; ``paragraphs`` are 款 with their 项 attached."""

    number: int
    label: str
    part: str | None
    chapter: str | None
    section: str | None
    paragraphs: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The article body as in the source, paragraphs separated by blank lines."""
        return "\n\n".join(self.paragraphs)


@dataclass
class Segmented:
    """The body of a document split into articles, plus any text outside them."""

    articles: list[Article]
    preamble: list[str]
    attachments: list[str]


def _paragraphs(body: str) -> list[str]:
    """Paragraphs are blank-line separated blocks; single-newline text is split into its lines.

    A block that has a 编/章/节/条/附则/附件 heading on a later line uses single newlines between
    paragraphs (e.g. a TXT file with blank lines only between chapters), so it is split into lines
    too; otherwise whole chapters would be swallowed by their heading line.
    """
    blocks = re.split(r"\n\s*\n", body)
    if len(blocks) <= 1:
        blocks = body.splitlines()
    out: list[str] = []
    for block in blocks:
        lines = block.strip().splitlines()
        if len(lines) > 1 and any(_BLOCK_BREAK.match(line) for line in lines[1:]):
            out.extend(lines)
        else:
            out.append(block)
    return [re.sub(r"[ \t　]+$", "", b.strip()) for b in out if b.strip()]


def _is_attachment_heading(line: str) -> bool:
    """附件 / 附件1：XX表 starts the attachments; a sentence such as "附件所列材料……。" does not."""
    return bool(_ATTACHMENT.match(line)) and len(line) <= 40 and not _SENTENCE_PUNCT.search(line)


def segment(body: str) -> Segmented:
    """Split a document body into articles, keeping 编/章/节 context and grouping 项 under their 款.

    An article heading without a following space is accepted only when it continues the numbering
    and is not followed by words of a cross-reference (so a paragraph that starts with
    "第八十条规定的…" is not taken for a new article, even inside article 79).
    """
    part = chapter = section = None
    articles: list[Article] = []
    preamble: list[str] = []
    attachments: list[str] = []
    in_attachment = False
    for para in _paragraphs(body):
        first_line = para.splitlines()[0].strip()
        heading = _HEADING.match(first_line)
        if in_attachment:
            attachments.append(para)
            continue
        if articles and _is_attachment_heading(first_line):
            in_attachment = True
            attachments.append(para)
            continue
        if heading and len(first_line) <= 60 and not _SENTENCE_PUNCT.search(heading.group(4)):
            label = re.sub(r"[\s　]+", " ", f"{heading.group(1)} {heading.group(4)}".strip())
            kind = heading.group(3)
            if kind == "编":
                part, chapter, section = label, None, None
            elif kind == "章":
                chapter, section = label, None
            else:
                section = label
            continue
        if _ANNEX_RULES.match(first_line):
            chapter, section = "附则", None
            continue
        article = _ARTICLE.match(para)
        if article:
            number = cn_to_int(article.group(1))
            spaced = para[len(f"第{article.group(1)}条") : len(f"第{article.group(1)}条") + 1] in (" ", "　", "\t")
            previous = articles[-1].number if articles else 0
            reference = _REFERENCE_TAIL.match(article.group(2))
            if spaced or (number == previous + 1 and not reference):
                label = f"第{article.group(1)}条"
                articles.append(Article(number, label, part, chapter, section, [article.group(2).strip()]))
                continue
        if articles:
            articles[-1].paragraphs.append(para)
        else:
            preamble.append(para)
    return Segmented(articles, preamble, attachments)


def split_paragraphs_into_kuan(paragraphs: list[str]) -> list[list[str]]:
    """Group an article's paragraphs into 款: an item paragraph （一）… belongs to the 款 before it."""
    groups: list[list[str]] = []
    for para in paragraphs:
        if groups and _ITEM.match(para):
            groups[-1].append(para)
        else:
            groups.append([para])
    return groups
