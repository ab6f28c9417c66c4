"""The deterministic stage of draft review: rules kept as data (config/review_rules.toml + the lexicon), applied by regex.

A rule fires on a match of one of its ``patterns`` unless, within the match's window (its sentence,
clipped to ``window`` characters either side), an ``unless`` pattern matches or a ``requires``
pattern does not; ``doc_unless`` / ``doc_requires`` look at the whole draft instead (document-level
rules such as a missing risk warning). In a draft that matches ``settings.quote_context`` (an anti-fraud
notice), a match that lies inside quotation marks is a quotation, not a claim, and is not reported.
Findings of one category that overlap, or touch across a gap of at most four characters within a
sentence, are merged into one. The file's ``[llm_cues]`` (words a model finding of a category must
contain) and ``settings.llm_disclaimer`` serve :meth:`RuleSet.model_finding_doubt`. The file's schema
is :mod:`review.rules_schema`.
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import ValidationError

from comply.config import Settings, load_settings
from review.findings import SEVERITIES, Finding
from review.rules_schema import LexiconGroup, Rule, RulesFile, expand, validate
from review.taxonomy import Taxonomy, load_taxonomy

SENTENCE_DELIMS = "。！？；!?;\n"
CLAUSE_DELIMS = SENTENCE_DELIMS + "，,：:｜|【】"
_JOINABLE_GAP = re.compile(r"[^。！？；!?;\n]{0,4}")
_QUOTED = re.compile(r"“[^“”\n]{1,60}”|‘[^‘’\n]{1,60}’|「[^「」\n]{1,60}」|『[^『』\n]{1,60}』|\"[^\"\n]{1,60}\"")
_CLAUSE_ENDS = "，,；;：:、。！？!?\n"
_TRIM = _CLAUSE_ENDS + " “”‘’「」『』\""
_CLAUSE = re.compile(r"[^，,；;：:、。！？!?\n]+[，,；;：:、。！？!?\n]*")
LEXICON_PATH = Path("lexicons") / "financial_marketing_prohibited_terms.json"


@dataclass(frozen=True)
class LexiconTerm:
    """A lexicon term and the rule (category, explanation, basis) it was mapped to."""

    term: str
    rule: Rule


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    matchers: tuple[re.Pattern[str], ...]
    unless: re.Pattern[str] | None
    requires: re.Pattern[str] | None
    doc_unless: re.Pattern[str] | None
    doc_requires: re.Pattern[str] | None


@dataclass(frozen=True)
class RuleSet:
    """Validated, compiled rules ready for :func:`apply_rules`."""

    rules: tuple[Rule, ...]
    lexicon_terms: tuple[LexiconTerm, ...]
    window: int
    compiled: tuple[_Compiled, ...] = field(repr=False)
    quote_context: re.Pattern[str] | None = field(default=None, repr=False)
    llm_cues: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False)
    llm_disclaimer: re.Pattern[str] | None = field(default=None, repr=False)

    def quotations(self, text: str) -> list[tuple[int, int]]:
        """Spans of the quoted passages of ``text`` when it matches ``settings.quote_context`` (else none)."""
        if self.quote_context is None or not self.quote_context.search(text):
            return []
        return [m.span() for m in _QUOTED.finditer(text)]

    def context_doubt(self, text: str, start: int, end: int) -> str | None:
        """Why no stage but the rules may flag ``text[start:end]``: it is a quotation (as for the rules) or its span is
        a risk warning or disclaimer (``settings.llm_disclaimer``); ``None`` when neither."""
        if _inside(self.quotations(text), start, end):
            return "片段是引号内的引述（防骗、辟谣、投教或培训材料转述的话术），不是本机构的表述"
        if self.llm_disclaimer is not None and self.llm_disclaimer.search(text[start:end]):
            return "片段本身是风险提示或免责声明"
        return None

    def claim_span(self, text: str, start: int, end: int) -> tuple[int, int] | None:
        """The part of the passage ``text[start:end]`` that makes a claim: its clauses (cut at ，；：、 and line ends) less
        those inside a quotation (:meth:`quotations`) and those that are a risk warning or disclaimer
        (``settings.llm_disclaimer``); ``None`` when no clause is left. A whole sentence that merely ends with
        投资有风险 keeps its claim."""
        quoted = self.quotations(text)
        kept = []
        for m in _CLAUSE.finditer(text, start, end):
            a, b = m.span()
            inner_a, inner_b = a, b  # the clause without its punctuation and quotation marks
            while inner_a < inner_b and text[inner_a] in _TRIM:
                inner_a += 1
            while inner_b > inner_a and text[inner_b - 1] in _TRIM:
                inner_b -= 1
            clause = text[inner_a:inner_b]
            if not clause or _inside(quoted, inner_a, inner_b) or (self.llm_disclaimer is not None and self.llm_disclaimer.search(clause)):
                continue
            kept.append((a, b))
        if not kept:
            return None
        a, b = kept[0][0], kept[-1][1]
        while b > a and text[b - 1] in _CLAUSE_ENDS + " ":
            b -= 1
        return (a, b) if b > a else None

    def model_finding_doubt(self, text: str, start: int, end: int, category: str) -> str | None:
        """Why a model finding on ``text[start:end]`` should be dropped: it is a quotation (as for the rules), its
        span is a disclaimer (``settings.llm_disclaimer``), or it has none of its category's cue words
        (``[llm_cues]``); ``None`` when it stands."""
        why = self.context_doubt(text, start, end)
        if why:
            return why
        cue = self.llm_cues.get(category)
        if cue is not None and not cue.search(text[start:end]):
            return "片段中没有该类问题的表述特征"
        return None


def load_rules(rules_file: Path, taxonomy: Taxonomy, lexicon_file: Path | None = None) -> RuleSet:
    """Read, validate and compile the rules file, plus the lexicon mapped by its ``[[lexicon]]`` groups.

    Raises:
        ValueError: in Chinese, naming the rule, on a missing or unknown field, an unknown category,
            severity, kind or citation, a bad regex, or a lexicon term no group maps.
    """
    try:
        raw = RulesFile.model_validate(tomllib.loads(Path(rules_file).read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"无法读取审查规则文件 {rules_file}：{exc}") from exc
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"])
        rule = "必须是正整数" if where == "settings.window" else "格式无效"
        raise ValueError(f"审查规则文件 {rules_file} 的 {where} {rule}") from None
    entries = _read_lexicon(lexicon_file) if lexicon_file is not None else []
    context = {"categories": taxonomy.ids, "sets": raw.sets,
               "bases": taxonomy.citations() | {f"《{e['rule']}》{e['article']}" for e in entries}}
    rules = [validate(Rule, item, f"审查规则“{_rid(item)}”", context) for item in raw.rules]
    lexicon_terms: list[LexiconTerm] = []
    if lexicon_file is not None:
        groups = [validate(LexiconGroup, item, f"词表映射“{_rid(item, '（未命名的词表映射）')}”", context) for item in raw.lexicon]
        lexicon_rules, lexicon_terms = _lexicon_rules(entries, groups, context)
        rules += lexicon_rules
    seen: set[str] = set()
    for rule in rules:
        if rule.id in seen:
            raise ValueError(f"审查规则“{rule.id}”的 id 重复")
        seen.add(rule.id)
    options = raw.settings
    return RuleSet(tuple(rules), tuple(lexicon_terms), options.window, tuple(_compile(r) for r in rules),
                   _joined("settings", expand("settings", "quote_context", options.quote_context, raw.sets)),
                   _llm_cues(raw.llm_cues, taxonomy, raw.sets),
                   _joined("settings", expand("settings", "llm_disclaimer", options.llm_disclaimer, raw.sets)))


def load_default_rules(settings: Settings | None = None) -> RuleSet:
    """The rules file, taxonomy and lexicon (``corpus_dir/lexicons/…``) named by the settings."""
    settings = settings or load_settings()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    return load_rules(settings.review_rules_file, taxonomy, settings.corpus_dir / LEXICON_PATH)


def apply_rules(text: str, rules: RuleSet) -> list[Finding]:
    """All findings in ``text``, same-category overlaps merged, sorted by start."""
    sentences = _delimiter_positions(text, SENTENCE_DELIMS)
    clauses = _delimiter_positions(text, CLAUSE_DELIMS)
    quoted = rules.quotations(text)
    findings: list[Finding] = []
    for compiled in rules.compiled:
        rule = compiled.rule
        if compiled.doc_requires and not compiled.doc_requires.search(text):
            continue
        if compiled.doc_unless and compiled.doc_unless.search(text):
            continue
        for matcher in compiled.matchers:
            hits = [m for m in matcher.finditer(text) if m.end() > m.start() and _passes(text, m, compiled, sentences, rules.window)
                    and not _inside(quoted, m.start(), m.end())]
            for m in hits[:1] if rule.once else hits:
                findings.append(_finding(text, m.start(), m.end(), rule, sentences, clauses))
            if rule.once and hits:
                break
    return _merge(text, findings)


def _rid(item: object, unnamed: str = "（未命名）") -> str:
    return str(item.get("id") or unnamed) if isinstance(item, dict) else unnamed


def _llm_cues(table: dict[str, tuple[str, ...]], taxonomy: Taxonomy, sets: dict[str, tuple[str, ...]]) -> dict[str, re.Pattern[str]]:
    """``[llm_cues]``: category id → cue patterns, compiled into one alternation per category."""
    out: dict[str, re.Pattern[str]] = {}
    for category, patterns in table.items():
        if category not in taxonomy.ids:
            raise ValueError(f"审查规则文件的 llm_cues 使用了未知类别“{category}”")
        compiled = _joined(f"llm_cues.{category}", expand(f"llm_cues.{category}", "llm_cues", patterns, sets))
        if compiled is not None:
            out[category] = compiled
    return out


def _read_lexicon(lexicon_file: Path) -> list[dict]:
    """The lexicon's entries (each with ``term``, ``category``, ``rule``, ``article``)."""
    try:
        entries = json.loads(Path(lexicon_file).read_text(encoding="utf-8"))["entries"]
        if not all(isinstance(e[k], str) and e[k] for e in entries for k in ("term", "category", "rule", "article")):
            raise ValueError("词条缺少 term/category/rule/article")
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"无法读取词表 {lexicon_file}：{exc}") from exc
    return entries


def _lexicon_rules(entries: list[dict], groups: list[LexiconGroup], context: dict) -> tuple[list[Rule], list[LexiconTerm]]:
    """One ``term`` rule per ``[[lexicon]]`` group, holding the lexicon terms mapped to it."""
    for group in groups:
        for term in group.terms:
            if not any(e["term"] == term and e["category"] in group.lexicon_categories for e in entries):
                raise ValueError(f"词表映射“{group.id}”列出的词“{term}”不在词表相应类别中")
    assigned: dict[str, list[str]] = {g.id: [] for g in groups}
    for entry in entries:
        group = _group_for(entry, groups)
        if entry["term"] not in assigned[group.id]:
            assigned[group.id].append(entry["term"])
    rules: list[Rule] = []
    terms: list[LexiconTerm] = []
    for group in groups:
        if not assigned[group.id]:
            continue
        fields = group.model_dump(exclude={"lexicon_categories", "terms"})
        rule = Rule.model_validate({**fields, "kind": "term", "patterns": tuple(assigned[group.id])}, context=context)
        rules.append(rule)
        terms += [LexiconTerm(t, rule) for t in rule.patterns]
    return rules, terms


def _group_for(entry: dict, groups: list[LexiconGroup]) -> LexiconGroup:
    """The group naming this term explicitly, else the one covering its lexicon category."""
    covering = [g for g in groups if entry["category"] in g.lexicon_categories]
    explicit = [g for g in covering if entry["term"] in g.terms]
    general = [g for g in covering if not g.terms]
    chosen = explicit or general
    if len(chosen) != 1:
        why = "没有映射到审查类别" if not chosen else f"被多个映射同时认领（{', '.join(g.id for g in chosen)}）"
        raise ValueError(f"词表词条“{entry['term']}”（类别“{entry['category']}”）{why}")
    return chosen[0]


def _regex(rid: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"审查规则“{rid}”的正则表达式无效：{pattern}（{exc}）") from exc


def _joined(rid: str, patterns: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation of ``patterns`` (each checked on its own first, so an error names the bad one); None if empty."""
    patterns = [_regex(rid, p).pattern for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _compile(rule: Rule) -> _Compiled:
    if rule.kind == "term":
        matchers = (re.compile("|".join(re.escape(t) for t in sorted(rule.patterns, key=len, reverse=True))),)
    else:
        matchers = tuple(_regex(rule.id, p) for p in rule.patterns)
    return _Compiled(rule, matchers, _joined(rule.id, rule.unless), _joined(rule.id, rule.requires),
                     _joined(rule.id, rule.doc_unless), _joined(rule.id, rule.doc_requires))


def _inside(quoted: list[tuple[int, int]], start: int, end: int) -> bool:
    """Whether ``[start, end)`` lies strictly within one of the quoted passages (inside its marks).

    ``quoted`` is in order and its passages do not overlap, so only the last one opening before ``start`` can hold it.
    """
    i = bisect.bisect_left(quoted, (start, -1)) - 1
    return i >= 0 and end < quoted[i][1]


def _delimiter_positions(text: str, delims: str) -> list[int]:
    return [i for i, ch in enumerate(text) if ch in delims]


def _segment(positions: list[int], start: int, end: int, length: int) -> tuple[int, int]:
    """The delimiter-bounded segment containing text[start:end]."""
    i = bisect.bisect_left(positions, start)
    seg_start = positions[i - 1] + 1 if i else 0
    j = bisect.bisect_left(positions, end)
    seg_end = positions[j] if j < len(positions) else length
    return seg_start, max(seg_end, end)


def _passes(text: str, m: re.Match[str], compiled: _Compiled, sentences: list[int], window: int) -> bool:
    if not (compiled.unless or compiled.requires):
        return True
    s_start, s_end = _segment(sentences, m.start(), m.end(), len(text))
    around = text[max(s_start, m.start() - window) : min(s_end, m.end() + window)]
    if compiled.requires and not compiled.requires.search(around):
        return False
    return not (compiled.unless and compiled.unless.search(around))


def _finding(text: str, start: int, end: int, rule: Rule, sentences: list[int], clauses: list[int]) -> Finding:
    if rule.span != "match":
        start, end = _segment(clauses if rule.span == "clause" else sentences, start, end, len(text))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Finding(text[start:end], start, end, rule.category, rule.severity, rule.explanation, [], rule.suggestion, "rule",
                   legal_basis=rule.legal_basis, rule_id=rule.id)


def _merge(text: str, findings: list[Finding]) -> list[Finding]:
    """Merge same-category findings that overlap or lie a few characters apart in one sentence; the most severe, then longest, leads."""
    merged: list[Finding] = []
    open_by_category: dict[str, int] = {}
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        k = open_by_category.get(f.category)
        if k is not None and (f.start <= merged[k].end or _JOINABLE_GAP.fullmatch(text, merged[k].end, f.start)):
            cur = merged[k]
            lead = min(cur, f, key=lambda x: (SEVERITIES.index(x.severity), -(x.end - x.start)))
            start, end = cur.start, max(cur.end, f.end)
            basis = tuple(dict.fromkeys(lead.legal_basis + cur.legal_basis + f.legal_basis))
            merged[k] = replace(lead, span=text[start:end], start=start, end=end, legal_basis=basis)
        else:
            open_by_category[f.category] = len(merged)
            merged.append(f)
    return sorted(merged, key=lambda f: (f.start, f.end, f.category))
