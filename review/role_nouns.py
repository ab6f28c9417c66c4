"""Role nouns for reading who bears a duty (客户经理, 投资顾问, 营业部负责人 …): word boundaries and role heads.

The roles come from the knowledge base: the penalty cases name each sanctioned person with their post in brackets
("王昆仑（营业部负责人）", "李丹（某基金管理有限公司原基金经理）"). Each post is a role term, and its last word, when
jieba reads that word alone as a noun, is a role head (经理, 顾问, 负责人, 交易员 …): a phrase ending in a role
head names an actor. Word boundaries come from jieba with the role terms as user words, so a subject never ends
inside a word (客户|经理在…).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from functools import lru_cache

import duckdb
import jieba
import jieba.posseg

jieba.setLogLevel(logging.WARNING)
_BRACKETED = re.compile(r"([\u4e00-\u9fff]{2,4})[（(]([^（）()]+)[）)]")
_PART = re.compile(r"[、，；;,]")
_PERSON = re.compile(r"某")  # an anonymised person: 张某, 王某虎


def _is_person(name: str) -> bool:
    return bool(_PERSON.search(name)) or any(p.flag == "nr" for p in jieba.posseg.lcut(name))


def _is_noun(word: str) -> bool:
    tags = jieba.posseg.lcut(word)
    return len(tags) == 1 and tags[0].flag.startswith("n")


class Roles:
    """Role terms and heads, and the words of a text with the terms kept whole."""

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = tuple(sorted(set(terms)))
        self._jieba = jieba.Tokenizer()
        self._lock = threading.Lock()
        for term in self.terms:
            self._jieba.add_word(term, freq=20000)
        heads = (jieba.lcut(t, HMM=False)[-1] for t in self.terms)  # the last word by the plain dictionary
        self.heads = frozenset(h for h in heads if len(h) > 1 and _is_noun(h))

    def _words(self, text: str) -> list[str]:
        with self._lock:
            return list(self._jieba.cut(text, HMM=False))

    def spans(self, text: str) -> list[tuple[int, int]]:
        """The (start, end) offsets of the words of ``text``."""
        out, at = [], 0
        for word in self._words(text):
            out.append((at, at + len(word)))
            at += len(word)
        return out

    def is_role(self, text: str) -> bool:
        """Whether ``text`` ends in a role head (理财经理, 投资顾问)."""
        return any(text.endswith(h) for h in self.heads)


def case_roles(con: duckdb.DuckDBPyConnection, clearance: int) -> Roles:
    """The posts of the persons named by the live cases visible at ``clearance``."""
    terms = []
    for (party,) in con.execute(
        "SELECT party FROM cases WHERE state = 'live' AND level <= ? AND party IS NOT NULL ORDER BY case_id", [clearance]
    ).fetchall():
        for name, posts in _BRACKETED.findall(party):
            if _is_person(name):
                terms += [p.strip().split("原")[-1].split("时任")[-1] for p in _PART.split(posts) if p.strip()]
    return _roles(tuple(sorted({t for t in terms if re.fullmatch(r"[\u4e00-\u9fff]{2,30}", t)})))


@lru_cache(maxsize=8)
def _roles(terms: tuple[str, ...]) -> Roles:
    """One :class:`Roles` per set of terms (building its tokenizer takes seconds; the cases rarely change)."""
    return Roles(terms)
