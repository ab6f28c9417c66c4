"""Chinese tokenisation for BM25: jieba search-mode words plus character bigrams, with a legal-term dictionary."""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache

import jieba

jieba.setLogLevel(logging.WARNING)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_ASCII_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?%?")
_STOP = frozenset("的 了 和 与 或 及 等 是 在 对 为 以 由 其 之 而 于 中 上 下 并 把 被 将 也 就 都 这 那 有 无 个 吗 呢 啊 吧 么 什么 哪些 哪条 怎么 怎样 如何 可以 能否 是否 应该 我们 你们 他们 一个 没有".split())


class Tokenizer:
    """Tokenises text into search-mode words and CJK bigrams; user words keep legal terms whole."""

    def __init__(self, user_words: tuple[str, ...] = ()) -> None:
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        for word in user_words:
            self._jieba.add_word(word, freq=20000)
        self.user_words = user_words

    def tokens(self, text: str) -> list[str]:
        """Return BM25 tokens: words from jieba's search mode (sub-words included) and character bigrams."""
        text = text.lower()
        with self._lock:
            words = list(self._jieba.cut_for_search(text))
        out = [w for w in words if _ASCII_WORD.fullmatch(w) or (_CJK_RUN.fullmatch(w) and len(w) > 1)]
        out = [w for w in out if w not in _STOP]
        for run in _CJK_RUN.findall(text):
            out += [run[i : i + 2] for i in range(len(run) - 1) if run[i : i + 2] not in _STOP]
        return out


@lru_cache(maxsize=4)
def get_tokenizer(user_words: tuple[str, ...]) -> Tokenizer:
    """One tokenizer per dictionary per process (jieba loads its dictionary once)."""
    return Tokenizer(user_words)


def legal_terms(titles: list[str]) -> tuple[str, ...]:
    """User-dictionary entries from document titles: the full title and its short form without 中华人民共和国."""
    terms = set()
    for title in titles:
        terms.add(title)
        short = title.removeprefix("中华人民共和国")
        if 2 <= len(short) <= 20:
            terms.add(short)
    return tuple(sorted(terms))
