"""From a file to a parsed document: text, header, legal structure and chunks."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from comply.config import Settings
from comply.files.limits import ReadLimits
from comply.files.readers import read_file
from kb_ingest.chunking import ChunkDraft, chunk_document, paragraph_chunks
from kb_ingest.header import DocHeader, split_header
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


def parse_document(path: Path, settings: Settings) -> ParsedDocument:
    """Read and structure one file.

    A short text whose only lines the header took (a one-line notice: "公司通知：下周一开会。") is kept whole,
    as a text document of one chunk, rather than stored with nothing to search.

    Raises:
        ReadError: when the file cannot be read or holds no text.
    """
    data_hash = hashlib.sha256(path.read_bytes()).hexdigest() if path.stat().st_size <= settings.max_file_mb * 2**20 else ""
    text = read_file(path, int(settings.max_file_mb * 2**20), ReadLimits.of(settings))
    header, body = split_header(text, path.stem)
    is_legal, chunks = chunk_document(path.stem, segment(body), settings.article_max_chars, settings.paragraph_chunk_chars)
    if not chunks:  # read_file refused a file without text, so the whole text makes at least one chunk
        is_legal, chunks = False, paragraph_chunks(path.stem, [p.strip() for p in re.split(r"\n\s*\n", text)], 0,
                                                    settings.paragraph_chunk_chars)
    return ParsedDocument(path.stem, str(path.resolve()), data_hash, header, is_legal, chunks, text)
