"""Deontic words (不得 / 禁止 / 应当 / 可以 …) and what they govern, in an answer's sentence and in a clause.

A clause's deontic word governs the text after it up to the next deontic word or the end of its sentence (。):
list items (（一）…；（二）…, on lines of their own or not) stay under the lead-in's 不得. Polarity is a sign: a prohibition (or "not
required": 无需 / 不必) is −1; an obligation or a permission +1 (the contradiction that matters is "forbidden or not
required" against "required or allowed"). A permission whose object is negated (可以不…) counts as −1. An answer
also says 可 / 能 where a clause says 可以 / 能够: those bare forms count in answers only, not inside common words
(可能, 能力 …).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROHIBIT, ALLOW = -1, 1
_WORDS = {
    PROHIBIT: ("不得", "禁止", "严禁", "不能", "不可以", "不可", "不应当", "不应", "不允许", "不准", "不许", "无权", "不宜",
               "无需", "无须", "不必", "不需要", "不用", "免于"),
    ALLOW: ("应当", "必须", "应该", "可以", "允许", "准许", "有权", "能够"),
}
_SIGN = {w: sign for sign, words in _WORDS.items() for w in words}
_ALTERNATION = "|".join(sorted(map(re.escape, _SIGN), key=len, reverse=True))
DEONTIC = re.compile(_ALTERNATION)
# In answers: the bare modal 可 / 能 too, except as the first character of an ordinary word.
_SPOKEN = re.compile(rf"{_ALTERNATION}|(?<![许认宁])可(?![能靠行见观信控比否谓疑惜爱口乐])"
                     r"|(?<![可才功技职性智本体动热电核效])能(?![力否源效耗量动手])")
_NEGATED = re.compile(r"^\s*(不|无|未|没有)")
_OBJECT_END = re.compile(r"[，,。；;：:！？!?\n“”\"「」\[\]【】]")
# A ruling ends with its sentence, or at a line break that does not open one of its items (（一）… / 1. …).
_SENTENCE_END = re.compile(r"[。！？!?]|\n(?!\s*(?:[（(][一二三四五六七八九十]+[）)]|\d+[.、．]))")
_IGNORED = re.compile(r"[\s\W_]+")
MIN_SHARED = 2  # bigrams an object must share with a scope to be "about the same thing"


@dataclass(frozen=True)
class Ruling:
    """One deontic word and the text it governs."""

    word: str
    sign: int
    scope: str


def bigrams(text: str) -> set[str]:
    """Character bigrams of ``text`` with punctuation and spaces removed."""
    flat = _IGNORED.sub("", text)
    return {flat[i : i + 2] for i in range(len(flat) - 1)}


def claims(sentence: str, object_chars: int = 16) -> list[Ruling]:
    """The deontic words of an answer's sentence, each with its object: the text after it up to punctuation."""
    out = []
    for m in _SPOKEN.finditer(sentence):
        rest = sentence[m.end() : m.end() + object_chars]
        cut = _OBJECT_END.search(rest)
        obj = rest[: cut.start()] if cut else rest
        if obj.strip():
            out.append(Ruling(m.group(0), _signed(m.group(0), obj), obj))
    return out


def _signed(word: str, obj: str) -> int:
    sign = _SIGN.get(word, ALLOW)
    return PROHIBIT if sign == ALLOW and _NEGATED.match(obj) else sign


def rulings(clause: str) -> list[Ruling]:
    """The clause's deontic words, each with the text it governs (to the next such word or the sentence's end)."""
    marks = list(DEONTIC.finditer(clause))
    out = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(clause)
        stop = _SENTENCE_END.search(clause, m.end(), end)
        scope = clause[m.end() : stop.start() if stop else end]
        out.append(Ruling(m.group(0), _signed(m.group(0), scope), scope))
    return out


def governing(obj: str, clause: str, min_share: float = 0.0) -> Ruling | None:
    """The clause's ruling whose scope shares most bigrams with ``obj`` (at least :data:`MIN_SHARED`, and at least
    ``min_share`` of the object's bigrams); ``None`` when no scope is about it, or two opposite ones tie."""
    want = bigrams(obj)
    if not want:
        return None
    scored = sorted(((len(want & bigrams(r.scope)), r) for r in rulings(clause)), key=lambda p: -p[0])
    if not scored or scored[0][0] < max(MIN_SHARED, min_share * len(want)):
        return None
    best_score, best = scored[0]
    if any(score == best_score and r.sign != best.sign for score, r in scored[1:]):
        return None
    return best
