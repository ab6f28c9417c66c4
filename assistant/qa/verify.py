"""Citation verification: every ``[n]`` must name a clause the model was given, and quotes must be verbatim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.qa.prompt import Clause
from comply.lawtext.citations import normalize_law_name
from comply.lawtext.numerals import NUMERAL, cn_to_int

_MARKER = re.compile(r"[\[【［]\s*(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]】］]")
_QUOTE = re.compile(r"“([^”]{2,})”|「([^」]{2,})」|\"([^\"]{2,})\"")
_SENTENCE = re.compile(r"[^。！？!?\n]*[。！？!?\n]?")
_SPACE = re.compile(r"\s+")
_NAMED = re.compile(rf"《([^《》]{{2,60}})》[^《》\[\]【】。；]{{0,40}}?第({NUMERAL})条")
_ARTICLE = re.compile(rf"第({NUMERAL})条")


@dataclass(frozen=True)
class Citation:
    """One cited clause number with the outcome of its check."""

    n: int
    chunk_id: str | None
    doc_title: str | None
    article: str | None
    verified: bool
    reason: str = ""
    notice: str = ""  # the cited document is repealed, amended or has a newer version

    def as_json(self) -> dict:
        """The public JSON shape of a citation (``notice`` only when the cited text is not plainly in force)."""
        out = {"n": self.n, "chunk_id": self.chunk_id, "doc_title": self.doc_title, "article": self.article, "verified": self.verified}
        return out | ({"notice": self.notice} if self.notice else {})


@dataclass(frozen=True)
class Verified:
    """The answer text with unsupported markers removed, and every citation's outcome."""

    text: str
    citations: list[Citation]

    @property
    def supported(self) -> list[Citation]:
        """Citations that verified."""
        return [c for c in self.citations if c.verified]


def _norm(text: str) -> str:
    return _SPACE.sub("", text)


def _article_no(label: str | None) -> int | None:
    match = re.fullmatch(r"第(.+)条", label or "")
    return cn_to_int(match.group(1)) if match else None


def _named(sentence: str) -> tuple[set[tuple[str, int]], set[int]]:
    """The (law, article number) pairs a sentence names in words (《证券法》第一百三十五条), and the bare article numbers."""
    titled = {(normalize_law_name(law), cn_to_int(no)) for law, no in _NAMED.findall(sentence)}
    return titled, {cn_to_int(no) for no in _ARTICLE.findall(sentence)}


def _matches_named(clause: Clause, named: tuple[set[tuple[str, int]], set[int]]) -> bool:
    titled, bare = named
    if titled:
        return (normalize_law_name(clause.doc_title), _article_no(clause.article)) in titled
    return not bare or _article_no(clause.article) in bare


def _numbers(group: str) -> list[int]:
    return [int(x) for x in re.split(r"\s*[,，、]\s*", group.strip())]


def verify(answer: str, clauses: list[Clause]) -> Verified:
    """Check each sentence's ``[n]`` markers against the clauses and its quotes against the cited clauses.

    A number outside the given clauses is unsupported; a sentence whose quoted span appears verbatim
    in none of the clauses it cites has all its markers unsupported; so is a marker whose clause is
    not among the articles the sentence names in words (《证券法》第一百三十五条 cited as a 广告法 clause). Unsupported markers are removed
    from the text and reported with ``verified=False``; markers are normalised to ``[n]``.
    """
    by_n = {c.n: c for c in clauses}
    outcome: dict[int, Citation] = {}
    out: list[str] = []
    for sentence in _SENTENCE.findall(answer):
        if not sentence:
            continue
        cited = [n for m in _MARKER.finditer(sentence) for n in _numbers(m.group(1))]
        known = [n for n in cited if n in by_n]
        quotes = [next(g for g in m.groups() if g) for m in _QUOTE.finditer(sentence)]
        missing = [q for q in quotes if not any(_norm(q) in _norm(by_n[n].text) for n in known)]
        named = _named(sentence)
        good: set[int] = set()
        for n in dict.fromkeys(cited):
            if n not in by_n:
                reason = f"编号 [{n}] 不在检索到的条款中"
            elif missing:
                reason = f"引文“{missing[0][:30]}”未在所引条款中逐字出现"
            elif not _matches_named(by_n[n], named):
                reason = f"句中所称条款与 [{n}]（{by_n[n].doc_title}{by_n[n].article or ''}）不符"
            else:
                good.add(n)
                reason = ""
            c = by_n.get(n)
            previous = outcome.get(n)
            if previous is None or (not previous.verified and n in good):
                outcome[n] = Citation(n, c.chunk_id if c else None, c.doc_title if c else None, c.article if c else None, n in good, reason,
                                      c.notice if c else "")

        def keep(m: re.Match) -> str:
            nums = [n for n in _numbers(m.group(1)) if n in good]
            return "".join(f"[{n}]" for n in dict.fromkeys(nums))

        out.append(_MARKER.sub(keep, sentence))
    return Verified("".join(out), list(outcome.values()))
