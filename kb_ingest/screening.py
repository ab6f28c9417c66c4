"""Upload screening: a configurable sensitive-word list (words and ``re:`` patterns) flags documents for review."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from comply.files.errors import ReadError
from comply.files.readers import decode_text


@dataclass(frozen=True)
class ScreenHit:
    """One match: the rule that fired, the matched text (masked) and its offset."""

    rule: str
    match: str
    offset: int


def _mask(text: str) -> str:
    return text if len(text) <= 4 else text[:2] + "*" * (len(text) - 4) + text[-2:]


class Screener:
    """Matches text against the sensitive-word list; a document with any hit is held for an administrator."""

    def __init__(self, words: list[str], patterns: list[str]) -> None:
        self.words = [w for w in words if w]
        self.patterns = [(p, re.compile(p)) for p in patterns]

    @classmethod
    def from_file(cls, path: Path) -> "Screener":
        """Load the list: one word per line, ``re:`` for a regular expression, ``#`` for comments.

        The file may be UTF-8 (with or without BOM) or GBK. A missing file gives an empty list.

        Raises:
            ValueError: when a pattern does not compile or matches the empty string (naming its
                line), or the file is not text.
        """
        words, patterns = [], []
        if path.is_file():
            try:
                # decode_text drops a UTF-8 BOM (Notepad writes one) and accepts GBK lists.
                text = decode_text(path.read_bytes(), path.name)
            except ReadError as exc:
                raise ValueError(f"{path}：{exc.message}") from exc
            for n, line in enumerate(text.splitlines(), start=1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("re:"):
                    source = line[3:].strip()
                    try:
                        compiled = re.compile(source)
                    except re.error as exc:
                        raise ValueError(f"{path} 第 {n} 行正则无效：{exc}") from exc
                    if compiled.fullmatch(""):
                        raise ValueError(f"{path} 第 {n} 行正则无效：能匹配空字符串，会命中所有文档")
                    patterns.append(source)
                else:
                    words.append(line)
        return cls(words, patterns)

    def screen(self, text: str, limit: int = 20) -> list[ScreenHit]:
        """Return up to ``limit`` hits, in order of position; matched personal data is masked."""
        hits = []
        for word in self.words:
            start = text.find(word)
            if start >= 0:
                hits.append(ScreenHit(word, word, start))
        for source, pattern in self.patterns:
            m = next((m for m in pattern.finditer(text) if m.group(0)), None)  # skip empty matches
            if m is not None:
                hits.append(ScreenHit("re:" + source, _mask(m.group(0)), m.start()))
        return sorted(hits, key=lambda h: h.offset)[:limit]
