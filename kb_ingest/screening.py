"""Upload screening: a configurable sensitive-word list (words and ``re:`` patterns) and built-in patterns of text
addressed to a language model (an injected instruction) flag documents for an administrator's review."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from comply.files.errors import ReadError
from comply.files.readers import decode_text
from comply.text import normalise_text

# Text that speaks to a language model rather than to a reader of a regulation: told to drop its instructions,
# to take another role or to answer a set text, or shaped as a chat turn. Built in, so that no edit of the word
# list turns it off; a document holding any of it waits for an administrator like one with a sensitive word.
_BEFORE = r"(?:以上|上面|上述|前面|前述|之前|此前|先前|所有|全部|一切|原有|原来)"
_ORDERS = r"(?:指令|指示|提示词?|规则|设定|要求|约束|命令)"
INJECTION_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pattern)) for name, pattern in (
    ("要求忽略先前指令", rf"(?:忽略|无视|忘记|忘掉|不要理会|不必遵守|跳过|丢弃){_BEFORE}(?:的)?(?:所有|全部|一切)?(?:的)?{_ORDERS}"),
    ("要求忽略先前指令", (r"(?i)\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:the\s+|your\s+)?"
                         r"(?:previous|prior|above|earlier|preceding|former)\s+(?:instructions?|prompts?|rules|directions|messages?)")),
    ("改变模型身份", r"你现在(?:是|扮演|的身份|的角色)|从现在(?:起|开始)，?你(?:是|将|要)|你的新(?:身份|角色|任务)是|(?i:\byou\s+are\s+now\b)"),
    ("系统提示词", r"(?i)system\s*prompt|系统提示词|系统指令"),
    ("要求输出指定内容", r"(?:请|直接|只|必须)?(?:原样|逐字)?(?:输出|回答|回复)以下内容|(?:一律|只能|必须)(?:回答|回复|输出)[:：]"),
    ("伪造对话角色", r"【\s*(?:系统|指令|system|System|SYSTEM)\s*】|(?:^|\n)[ \t]*(?:system|assistant|System|Assistant)[ \t]*[:：]|<\|[A-Za-z_]{2,20}\|>"),
))
_PASSAGE_TAIL = 24  # characters after an instruction kept in its flag, so that an administrator sees what it asks


@dataclass(frozen=True)
class ScreenHit:
    """One match: the rule that fired, what it matched (personal data masked) and its offset."""

    rule: str
    match: str
    offset: int


def _passage(text: str, m: re.Match[str]) -> str:
    """The matched instruction and what follows it on its line (at most ``_PASSAGE_TAIL`` characters)."""
    line_end = text.find("\n", m.end())
    return text[m.start():min(m.end() + _PASSAGE_TAIL, len(text) if line_end < 0 else line_end)].strip()


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
        """Return up to ``limit`` hits, in order of position; matched personal data is masked.

        An instruction to a model is named ``指令注入：…`` and quoted with what follows it on its line; it is
        looked for in the text with invisible characters removed (so ``忽\u200b略以上指令`` is found too).
        """
        visible = normalise_text(text)
        hits = [ScreenHit(f"指令注入：{name}", _passage(visible, m), m.start())
                for name, pattern in INJECTION_PATTERNS for m in pattern.finditer(visible)]
        for word in self.words:
            start = text.find(word)
            if start >= 0:
                hits.append(ScreenHit(word, word, start))
        for source, pattern in self.patterns:
            m = next((m for m in pattern.finditer(text) if m.group(0)), None)  # skip empty matches
            if m is not None:
                hits.append(ScreenHit("re:" + source, _mask(m.group(0)), m.start()))
        return sorted(hits, key=lambda h: h.offset)[:limit]
