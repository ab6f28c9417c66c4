"""Chunks: one per article (split by 款 only when too long), or paragraph groups for non-legal text."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kb_ingest.structure import Article, Segmented, split_paragraphs_into_kuan

MIN_ARTICLES_FOR_LEGAL = 2


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it gets its id; ``text`` is verbatim source text."""

    ord: int
    article: str | None
    article_no: int | None
    part: str | None
    chapter: str | None
    section: str | None
    paragraphs: str | None
    path: str
    text: str

    def embed_key(self, title: str) -> str:
        """Hash of the text that is embedded (so identical text is embedded once)."""
        return hashlib.sha256(self.embedding_text(title).encode("utf-8")).hexdigest()

    def embedding_text(self, title: str) -> str:
        """The text indexed for search: hierarchy context followed by the chunk itself."""
        context = " ".join(x for x in (title, self.chapter, self.section, self.article) if x)
        return f"{context}\n{self.text}" if context else self.text


def _path(title: str, art: Article, kuan: str | None) -> str:
    levels = [x for x in (art.part, art.chapter, art.section) if x]
    tail = art.label + (f" {kuan}" if kuan else "")
    return f"《{title}》" + (" ".join(levels) + " " if levels else "") + tail


def _kuan_label(first: int, last: int) -> str:
    return f"第{first}款" if first == last else f"第{first}-{last}款"


def _pack(pieces: list[str], max_chars: int) -> list[list[int]]:
    """Greedily pack consecutive pieces into groups whose joined length stays within max_chars."""
    groups: list[list[int]] = [[]]
    size = 0
    for i, piece in enumerate(pieces):
        if groups[-1] and size + len(piece) > max_chars:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += len(piece) + 2
    return groups


def article_chunks(title: str, art: Article, start_ord: int, max_chars: int) -> list[ChunkDraft]:
    """Chunk one article: whole when short enough, else by 款 groups (a huge 款 by its 项, lead repeated)."""
    paragraphs = [p for p in art.paragraphs if p]
    text = "\n\n".join(paragraphs)

    def make(ord_: int, body: str, kuan: str | None) -> ChunkDraft:
        return ChunkDraft(
            ord_, art.label, art.number, art.part, art.chapter, art.section, kuan[1:-1] if kuan else None,
            _path(title, art, kuan), body,
        )

    if len(text) <= max_chars:
        return [make(start_ord, text, None)]
    kuan_groups = split_paragraphs_into_kuan(paragraphs)
    out: list[ChunkDraft] = []
    for group in _pack(["\n\n".join(k) for k in kuan_groups], max_chars):
        first, last = group[0] + 1, group[-1] + 1
        body = "\n\n".join("\n\n".join(kuan_groups[i]) for i in group)
        if len(group) == 1 and len(body) > max_chars and len(kuan_groups[group[0]]) > 1:
            lead, *items = kuan_groups[group[0]]
            for item_group in _pack(items, max_chars - len(lead) - 2):
                piece = "\n\n".join([lead] + [items[i] for i in item_group])
                out.append(make(start_ord + len(out), piece, _kuan_label(first, last)))
            continue
        out.append(make(start_ord + len(out), body, _kuan_label(first, last)))
    return out


def paragraph_chunks(title: str, paragraphs: list[str], start_ord: int, max_chars: int, label: str = "") -> list[ChunkDraft]:
    """Chunk non-legal text into groups of consecutive paragraphs of about max_chars."""
    paragraphs = [p for p in paragraphs if p.strip()]
    out = []
    if not paragraphs:
        return []
    for n, group in enumerate(_pack(paragraphs, max_chars), start=1):
        body = "\n\n".join(paragraphs[i] for i in group)
        path = f"《{title}》{label}第{n}段" if label else f"《{title}》第{n}段"
        out.append(ChunkDraft(start_ord + len(out), None, None, None, label or None, None, None, path, body))
    return out


def chunk_document(title: str, seg: Segmented, max_article_chars: int, paragraph_chars: int) -> tuple[bool, list[ChunkDraft]]:
    """Chunk a segmented document; return whether it was treated as legal text, and its chunks."""
    if len(seg.articles) < MIN_ARTICLES_FOR_LEGAL:
        paragraphs = seg.preamble + [p for a in seg.articles for p in [a.label + " " + a.paragraphs[0], *a.paragraphs[1:]]]
        return False, paragraph_chunks(title, paragraphs + seg.attachments, 0, paragraph_chars)
    chunks: list[ChunkDraft] = []
    if seg.preamble:
        chunks += paragraph_chunks(title, seg.preamble, 0, paragraph_chars, "序言")
    for art in seg.articles:
        chunks += article_chunks(title, art, len(chunks), max_article_chars)
    if seg.attachments:
        chunks += paragraph_chunks(title, seg.attachments, len(chunks), paragraph_chars, "附件")
    return True, chunks
