"""The one error type a file reader reports, with a machine-readable kind and a Chinese message."""

from __future__ import annotations


class ReadError(Exception):
    """A file could not be read; a batch (ingest or review) goes on without it.

    Attributes:
        kind: one of ``oversize`` (the file, or what it expands to: bytes, paragraphs, pages), ``empty``,
            ``encrypted``, ``corrupt``, ``image_only``, ``undecodable``, ``unsupported``, ``invalid``, ``numbering``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
