"""From a file to a parsed document: text, header, legal structure and chunks."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from pathlib import Path

from comply.config import Settings
from comply.files.errors import ReadError
from comply.files.limits import ReadLimits
from comply.files.readers import read_file
from corpus.catalog import Catalog, load_catalog
from kb_ingest.chunking import ChunkDraft, chunk_document, paragraph_chunks
from kb_ingest.header import DocHeader, split_header
from kb_ingest.numbering import numbering_problems
from kb_ingest.structure import segment


@dataclass(frozen=True)
class ParsedDocument:
    """A document ready to store: identity, metadata, chunks and full text (for screening)."""

    doc_key: str
    source_path: str
    content_hash: str
    header: DocHeader
    is_legal: bool
    chunks: list[ChunkDraft]
    text: str

    @property
    def title(self) -> str:
        """The title as in the file name (the document's stable key)."""
        return self.doc_key

    def doc_id(self) -> str:
        """Id of this version: a hash of the key and the content."""
        return "doc-" + hashlib.sha256(f"{self.doc_key}\n{self.content_hash}".encode()).hexdigest()[:16]


def with_catalog(header: DocHeader, doc_key: str, catalog: Catalog) -> DocHeader:
    """The header with 文号, issuer and status filled from the catalogue where the header lacks them.

    The 文号 comes from the newest catalogued version not later than the text (a text older than every listed version,
    or undated, gets none: a later version's number would be wrong); the issuer from any version.
    """
    entry = catalog.find(header.title) or catalog.find(doc_key)
    if entry is None:
        return header
    dated = [v for v in entry.versions if header.version_date and v.pub_date and v.pub_date <= header.version_date]
    number = dated[-1].doc_number if dated else None
    status, note = (header.status, None) if header.status else entry.status_of(header.version_date)
    return replace(header, doc_number=header.doc_number or number, issuer=header.issuer or entry.latest.issuer,
                   status=status, status_note=note or None)


def parse_document(path: Path, settings: Settings) -> ParsedDocument:
    """Read and structure one file, its header completed from the corpus catalogue.

    A short text whose only lines the header took (a one-line notice: "公司通知：下周一开会。") is kept whole,
    as a text document of one chunk, rather than stored with nothing to search.

    Raises:
        ReadError: when the file cannot be read or holds no text, or its article numbers skip, repeat or run backwards
            (kind ``numbering``: articles are never merged or renumbered silently).
    """
    data_hash = hashlib.sha256(path.read_bytes()).hexdigest() if path.stat().st_size <= settings.max_file_mb * 2**20 else ""
    text = read_file(path, int(settings.max_file_mb * 2**20), ReadLimits.of(settings))
    header, body = split_header(text, path.stem)
    header = with_catalog(header, path.stem, load_catalog(settings.corpus_dir))
    segmented = segment(body)
    problems = numbering_problems([a.number for a in segmented.articles])
    if problems:
        raise ReadError("numbering", f"{path.name}：条文编号有误（{problems}），未导入。请核对原文后重新导入")
    is_legal, chunks = chunk_document(path.stem, segmented, settings.article_max_chars, settings.paragraph_chunk_chars)
    if not chunks:  # read_file refused a file without text, so the whole text makes at least one chunk
        is_legal, chunks = False, paragraph_chunks(path.stem, [p.strip() for p in re.split(r"\n\s*\n", text)], 0,
                                                    settings.paragraph_chunk_chars)
    return ParsedDocument(path.stem, str(path.resolve()), data_hash, header, is_legal, chunks, text)
