"""Citation verification: every ``[n]`` must name a clause the model was given, and the sentence citing it must be
supported by that clause (:mod:`assistant.qa.support`: near-verbatim quotes, the clause's own words, agreeing
deontic words)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.qa.prompt import Clause
from assistant.qa.support import sentence_problem
from comply.lawtext.citations import normalize_law_name
from comply.lawtext.numerals import NUMERAL, cn_to_int

_MARKER = re.compile(r"[\[【［]\s*(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\s*[\]】］]")
_QUOTE = re.compile(r"“([^”]{2,})”|「([^」]{2,})」|\"([^\"]{2,})\"")
# A sentence ends at 。！？ or a line break, never inside a closed quotation (“……。” stays one sentence).
_SENTENCE = re.compile(r"(?:“[^”\n]*”|「[^」\n]*」|[^。！？!?\n])*[。！？!?\n]?")
_ONLY_MARKERS = re.compile(r"[\W_]*")
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
class Claim:
    """One sentence of the answer as written (markers normalised to ``[n]``) and whether the clauses it cites bear
    it out: ``supported`` is None for a sentence that cites nothing."""

    text: str
    cited: tuple[int, ...]
    supported: bool | None
    reason: str = ""

    def as_json(self) -> dict:
        """The public JSON shape."""
        return {"text": self.text, "cited": list(self.cited), "supported": self.supported, "reason": self.reason}


@dataclass(frozen=True)
class Verified:
    """The answer text with unsupported markers removed, every citation's outcome, and every sentence's."""

    text: str
    citations: list[Citation]
    claims: list[Claim]

    @property
    def supported(self) -> list[Citation]:
        """Citations that verified."""
        return [c for c in self.citations if c.verified]


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


def sentences(answer: str) -> list[str]:
    """The answer's sentences as written (joined, they are the answer); markers standing alone after a sentence
    (“……。”[1]) belong to it."""
    out: list[str] = []
    for piece in _SENTENCE.findall(answer):
        if not piece:
            continue
        if out and _MARKER.search(piece) and _ONLY_MARKERS.fullmatch(_MARKER.sub("", piece)) and not out[-1].endswith("\n"):
            out[-1] += piece
        else:
            out.append(piece)
    return out


def verify(answer: str, clauses: list[Clause]) -> Verified:
    """Check each sentence's ``[n]`` markers against the clauses it cites.

    A number outside the given clauses is unsupported; so is a marker whose clause is not among the articles the
    sentence names in words (《证券法》第一百三十五条 cited as a 广告法 clause), or does not support the sentence
    (:func:`assistant.qa.support.sentence_problem`). Unsupported markers are removed from the text and reported with
    ``verified=False``; markers are normalised to ``[n]``. Every sentence is kept, as written, in ``claims``.
    """
    by_n = {c.n: c for c in clauses}
    outcome: dict[int, Citation] = {}
    out: list[str] = []
    claims: list[Claim] = []
    for sentence in sentences(answer):
        cited = [n for m in _MARKER.finditer(sentence) for n in _numbers(m.group(1))]
        quotes = [next(g for g in m.groups() if g) for m in _QUOTE.finditer(sentence)]
        named = _named(sentence)
        good: set[int] = set()
        reasons: list[str] = []
        for n in dict.fromkeys(cited):
            if n not in by_n:
                reason = f"编号 [{n}] 不在检索到的条款中"
            elif not _matches_named(by_n[n], named):
                reason = f"句中所称条款与 [{n}]（{by_n[n].doc_title}{by_n[n].article or ''}）不符"
            else:
                reason = sentence_problem(sentence, quotes, by_n[n])
            if reason:
                reasons.append(reason)
            else:
                good.add(n)
            c = by_n.get(n)
            previous = outcome.get(n)
            if previous is None or (not previous.verified and n in good):
                outcome[n] = Citation(n, c.chunk_id if c else None, c.doc_title if c else None, c.article if c else None, n in good, reason,
                                      c.notice if c else "")

        def keep(m: re.Match) -> str:
            nums = [n for n in _numbers(m.group(1)) if n in good]
            return "".join(f"[{n}]" for n in dict.fromkeys(nums))

        out.append(_MARKER.sub(keep, sentence))
        as_written = _MARKER.sub(lambda m: "".join(f"[{n}]" for n in _numbers(m.group(1))), sentence)
        supported = not reasons if cited else None
        claims.append(Claim(as_written, tuple(dict.fromkeys(cited)), supported, "；".join(reasons)))
    return Verified("".join(out), list(outcome.values()), claims)
