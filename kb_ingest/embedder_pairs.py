"""Training pairs for adapting the embedder to the corpus, mined from the knowledge base itself.

Only public (level 0) live documents and cases are mined, so a tuned model never learns from classified
text. Every positive is the body of an article's first chunk, without the headings the index puts before it: with
them, the model learns to match the shared heading words instead of the provision's content.
Kinds: ``heading`` (document short title and chapter/section names → article), ``citation`` (an article →
an article it cites, 违反本法第五十六条 or 《证券法》第八十条), ``case`` (a case's conduct → a provision it
cites, as linked at ingest) and ``dev`` (the development retrieval questions → their articles).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from comply.db import rows_as_dicts
from comply.lawtext.citations import parse_citations
from comply.lawtext.numerals import NUMERAL, cn_to_int, int_to_cn
from kb_ingest.chunking import ChunkDraft
from retrieval.links import LawResolver, LiveDoc

PUBLIC = 0
KINDS = ("heading", "citation", "case", "dev")
HEADING_SAMPLE = 3
_OWN_REF = re.compile(rf"本(?:法|条例|办法|规定|规则|细则|解释)((?:第{NUMERAL}条(?:第{NUMERAL}款)?(?:第{NUMERAL}项)?[、和及或者至]*)+)")
_ARTICLE_NO = re.compile(rf"第({NUMERAL})条")
_HEADING_NO = re.compile(rf"^第{NUMERAL}[编章节]\s*")


@dataclass(frozen=True)
class Pair:
    """An (anchor, positive) training pair; ``group`` is the positive's document, the unit of the validation split."""

    kind: str
    anchor: str
    positive: str
    group: str


@dataclass(frozen=True)
class _Article:
    doc_id: str
    doc_key: str
    article_no: int
    chapter: str | None
    section: str | None
    text: str


def _articles(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], _Article]:
    """The first chunk of every article of a public live document, keyed by (doc_id, article number)."""
    rows = rows_as_dicts(con.execute(
        "SELECT c.doc_id, d.doc_key, c.ord, c.article, c.article_no, c.part, c.chapter, c.section, c.paragraphs, c.path, c.text "
        "FROM chunks c JOIN documents d USING (doc_id) WHERE d.state = 'live' AND d.level = ? AND c.article_no IS NOT NULL "
        "ORDER BY c.doc_id, c.ord", [PUBLIC]))
    out: dict[tuple[str, int], _Article] = {}
    for r in rows:
        doc_id, doc_key = r.pop("doc_id"), r.pop("doc_key")
        chunk = ChunkDraft(**r)
        out.setdefault((doc_id, chunk.article_no), _Article(doc_id, doc_key, chunk.article_no, chunk.chapter, chunk.section,
                                                              chunk.text))
    return out


def _short_title(doc_key: str) -> str:
    return doc_key.removeprefix("中华人民共和国")


def heading_pairs(articles: Iterable[_Article], per_heading: int = HEADING_SAMPLE) -> list[Pair]:
    """Short title + chapter and section names (numbering dropped) → up to ``per_heading`` articles under them, spread
    evenly (a heading shared by many articles would otherwise outweigh every other kind); articles outside any chapter are skipped."""
    under: dict[str, list[_Article]] = {}
    for a in articles:
        names = [_HEADING_NO.sub("", h).replace(" ", "") for h in (a.chapter, a.section) if h]
        if names:
            under.setdefault(" ".join([_short_title(a.doc_key), *names]), []).append(a)
    out = []
    for anchor, group in under.items():
        n = min(per_heading, len(group))
        out += [Pair("heading", anchor, group[i].text, group[i].doc_key)
                for i in sorted({round(k * (len(group) - 1) / max(1, n - 1)) for k in range(n)})]
    return out


def citation_pairs(articles: dict[tuple[str, int], _Article], resolver: LawResolver) -> list[Pair]:
    """An article → each other article it cites, in its own document (本法第X条) or another public one (《证券法》第X条)."""
    out = []
    for (doc_id, no), a in articles.items():
        cited: set[tuple[str, int]] = set()
        for match in _OWN_REF.finditer(a.text):
            cited.update((doc_id, cn_to_int(n)) for n in _ARTICLE_NO.findall(match.group(1)))
        for cit in parse_citations(a.text):
            doc = resolver.resolve(cit.law)
            if doc is not None:
                cited.add((doc.doc_id, cit.article_no))
        for key in sorted(cited - {(doc_id, no)}):
            target = articles.get(key)
            if target is not None:
                out.append(Pair("citation", a.text, target.text, target.doc_key))
    return out


def case_pairs(con: duckdb.DuckDBPyConnection, articles: dict[tuple[str, int], _Article]) -> list[Pair]:
    """A public case's conduct (its violation summary, else its title) → each public provision it cites that ingest linked."""
    rows = con.execute(
        "SELECT DISTINCT coalesce(nullif(k.violation_summary, ''), k.title), c.doc_id, c.article_no "
        "FROM case_citations l JOIN cases k USING (case_id) JOIN chunks c ON c.chunk_id = l.chunk_id "
        "JOIN documents d ON d.doc_id = c.doc_id "
        "WHERE k.state = 'live' AND k.level = ? AND d.state = 'live' AND d.level = ? ORDER BY 1, 2, 3", [PUBLIC, PUBLIC]).fetchall()
    return [Pair("case", conduct, articles[(doc_id, no)].text, articles[(doc_id, no)].doc_key)
            for conduct, doc_id, no in rows if (doc_id, no) in articles]


def dev_pairs(path: Path, articles: dict[tuple[str, int], _Article]) -> list[Pair]:
    """Development retrieval questions (``{"query", "relevant": [{"doc", "article"}]}``) → their public articles."""
    by_label = {(a.doc_key, f"第{int_to_cn(a.article_no)}条"): a for a in articles.values()}
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        for rel in item.get("relevant") or []:
            target = by_label.get((rel["doc"], rel["article"]))
            if target is not None:
                out.append(Pair("dev", item["query"], target.text, target.doc_key))
    return out


def mine_pairs(con: duckdb.DuckDBPyConnection, dev_questions: Path | None = None) -> list[Pair]:
    """Every pair of every kind, without duplicates, in a stable order (``dev_questions``: None leaves the dev kind out)."""
    articles = _articles(con)
    docs = {a.doc_id: a.doc_key for a in articles.values()}
    resolver = LawResolver([LiveDoc(doc_id, key, None) for doc_id, key in docs.items()])
    pairs = [*heading_pairs(articles.values()), *citation_pairs(articles, resolver), *case_pairs(con, articles)]
    if dev_questions is not None:
        pairs += dev_pairs(dev_questions, articles)
    return list(dict.fromkeys(pairs))


def count_by_kind(pairs: Iterable[Pair]) -> dict[str, int]:
    """How many pairs of each kind (every kind listed, zero included)."""
    counts = dict.fromkeys(KINDS, 0)
    for p in pairs:
        counts[p.kind] += 1
    return counts


def pairs_sha256(pairs: Iterable[Pair]) -> str:
    """SHA-256 of the pairs as canonical JSON lines, in their order (the training data's identity)."""
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(json.dumps(asdict(p), ensure_ascii=False, sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()
