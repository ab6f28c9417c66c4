"""Rewrites that need no model: each flagged span is deleted, replaced, cut out with its clause, or answered by the
standard risk disclosure (per category, config/rewrite_templates.toml); the result is re-reviewed until clean.

Also the acceptance test of a model's rewrite (:func:`check_candidate`): it must re-review clean and state no figure
the original lacks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from review.findings import Finding
from review.sections import sentence_spans
from review.verify import figures, new_figures

DELETE, REPLACE, CLAUSE, DISCLOSE = "delete", "replace", "clause", "disclose"
SENTENCE = "sentence"  # the final fallback's action in an :class:`Edit`
ACTIONS = (DELETE, REPLACE, CLAUSE, DISCLOSE)
_RANK = {REPLACE: 0, DELETE: 1, CLAUSE: 2}  # of overlapping edits, the one removing most wins
_WEAK = "，、；,;"
_STRONG = "。！？!?"
_CLAUSE_ENDS = _WEAK + _STRONG + "\n"
_SPACE = " \t\u3000"
_PAIRS = {"“": "”", "‘": "’", "「": "」", "『": "』", "【": "】", "（": "）", "(": ")", "《": "》", "[": "]", "\"": "\""}

Rereview = Callable[[str], list[Finding]]


@dataclass(frozen=True)
class Template:
    """How a category's findings are rewritten: an action of :data:`ACTIONS`, and the replacement for ``replace``."""

    action: str
    text: str = ""


@dataclass(frozen=True)
class RewriteTemplates:
    """One :class:`Template` per taxonomy category."""

    by_category: dict[str, Template]

    def get(self, category: str) -> Template:
        """The category's template; a category the file does not know has its clause cut out."""
        return self.by_category.get(category, Template(CLAUSE))


@dataclass(frozen=True)
class Edit:
    """One change: ``before`` (text of the draft being edited) became ``after``."""

    before: str
    after: str
    category: str
    action: str


@dataclass
class RewriteResult:
    """The rewritten text, its edits in order, what the last re-review still found, and the rewrite passes made
    (the final fallback counts as one)."""

    text: str
    edits: list[Edit] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    rounds: int = 0


@dataclass(frozen=True)
class Verdict:
    """Whether a model's rewrite may be used, why (in Chinese), what its re-review found and the figures it invented."""

    accepted: bool
    reason: str
    findings: list[Finding]
    invented: list[str]


def load_templates(path: Path, categories: Collection[str] | None = None) -> RewriteTemplates:
    """Read and validate the templates file: one table per category of ``categories`` (default: the taxonomy the
    settings name), each with ``action`` and, for ``replace``, a non-empty ``text`` with no figure in it.

    Raises:
        ValueError: in Chinese, naming the key: unreadable file, unknown or missing category, unknown action or
            field, a ``replace`` without text, or a text with a figure.
    """
    if categories is None:
        from comply.config import load_settings
        from review.taxonomy import load_taxonomy

        categories = load_taxonomy(load_settings().taxonomy_file).ids
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"无法读取改写模板文件 {path}：{exc}") from exc
    templates: dict[str, Template] = {}
    for key, entry in raw.items():
        if key not in categories:
            raise ValueError(f"改写模板文件 {path} 的“{key}”不是审查类别")
        templates[key] = _template(key, entry)
    missing = [c for c in categories if c not in templates]
    if missing:
        raise ValueError(f"改写模板文件 {path} 缺少类别“{missing[0]}”的模板")
    return RewriteTemplates(templates)


def _template(key: str, entry: object) -> Template:
    """One category's table, validated (see :func:`load_templates`)."""
    match entry:
        case dict():
            table = entry
        case _:
            raise ValueError(f"改写模板“{key}”必须是一个表（[{key}]）")
    unknown = sorted(set(table) - {"action", "text"})
    if unknown:
        raise ValueError(f"改写模板“{key}”有未知字段“{unknown[0]}”")
    action = table.get("action")
    if action not in ACTIONS:
        raise ValueError(f"改写模板“{key}”的 action“{action}”无效，应为 {'、'.join(ACTIONS)} 之一")
    match table.get("text", ""):
        case str() as text:
            pass
        case _:
            raise ValueError(f"改写模板“{key}”的 text 必须是文字")
    if action == REPLACE and not text.strip():
        raise ValueError(f"改写模板“{key}”的 action 为 replace，必须给出非空的 text")
    if action != REPLACE and text:
        raise ValueError(f"改写模板“{key}”的 action 为 {action}，不应给出 text")
    if figures(text):
        raise ValueError(f"改写模板“{key}”的 text 含有数字（{'、'.join(sorted(figures(text)))}），改写不得加入原文没有的数字")
    return Template(action, text)


def load_disclosure(path: Path) -> str:
    """The short standard risk disclosure (``[general] short`` of config/disclosures.toml).

    Raises:
        ValueError: in Chinese, when the file is unreadable or has no such text.
    """
    try:
        short = tomllib.loads(Path(path).read_text(encoding="utf-8")).get("general", {}).get("short")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"无法读取信息披露文件 {path}：{exc}") from exc
    if not isinstance(short, str) or not short.strip():
        raise ValueError(f"信息披露文件 {path} 缺少 [general] short")
    return short.strip()


def deterministic_rewrite(
    text: str, findings: Sequence[Finding], rereview: Rereview, templates: RewriteTemplates, disclosure: str, max_rounds: int = 4,
) -> RewriteResult:
    """Rewrite ``text`` by the templates until ``rereview`` finds nothing, at most ``max_rounds`` passes; what is still
    found then has its whole sentence removed (the final fallback, one more pass) and the text is re-reviewed once more.

    Each pass edits right to left, overlapping spans merged (the edit removing most wins), and tidies the punctuation
    and line breaks an edit leaves behind. The rewrite adds no figure: it only removes text, inserts template texts
    (validated free of figures) and ``disclosure`` (which must have none). ``findings`` are on ``text``; ``rereview``
    returns findings on the text it is given.

    ``remaining`` is empty unless the fallback cannot clear the draft, which happens when the findings still there
    after ``max_rounds`` are not tied to their sentence: a document-level finding (no risk disclosure) moves to another
    sentence once its sentence is gone (only when ``max_rounds`` is 0, the category's template is not ``disclose``, or
    ``disclosure`` does not satisfy the rules), or a finding appears only once sentences are removed (a negation or
    warning that silenced a rule was in a removed sentence).
    """
    result = RewriteResult(text)
    found = list(findings)
    while found and result.rounds < max_rounds:
        result.rounds += 1
        result.text, edits = _rewrite_once(result.text, found, templates, disclosure)
        result.edits += edits
        found = rereview(result.text)
        if not edits:
            break
    if found:
        result.rounds += 1
        result.text, edits = _drop_sentences(result.text, found)
        result.edits += edits
        found = rereview(result.text)
    result.remaining = found
    return result


def check_candidate(original: str, candidate: str, rereview: Rereview) -> Verdict:
    """Accept a model's rewrite only if it is not empty, ``rereview`` finds nothing in it, and it states no figure
    that ``original`` lacks; ``reason`` says which test failed."""
    findings = rereview(candidate) if candidate.strip() else []
    invented = new_figures(original, candidate)
    reasons = ["改写稿为空"] if not candidate.strip() else []
    if findings:
        reasons.append(f"改写稿复审仍有 {len(findings)} 个问题")
    if invented:
        reasons.append(f"改写稿出现原文没有的数字：{'、'.join(invented)}")
    return Verdict(not reasons, "；".join(reasons) or "改写稿复审未发现问题，且没有原文以外的数字", findings, invented)


@dataclass
class _Cut:
    start: int
    end: int
    action: str
    text: str
    category: str


def _rewrite_once(text: str, findings: Sequence[Finding], templates: RewriteTemplates, disclosure: str) -> tuple[str, list[Edit]]:
    """One pass: every finding's template applied (right to left, overlaps merged), then the disclosure if asked for."""
    cuts: list[_Cut] = []
    disclose: Finding | None = None
    for f in findings:
        template = templates.get(f.category)
        start, end = max(0, f.start), min(len(text), f.end)
        if template.action == DISCLOSE:
            disclose = disclose or f
        elif start < end:
            if template.action == CLAUSE:
                start, end = _clause(text, start, end)
            elif template.action == DELETE and text.startswith("的", end):  # "是[最好]的选择": the 的 would dangle
                end += 1
            cuts.append(_Cut(start, end, template.action, template.text, f.category))
    edits: list[Edit] = []
    for cut in reversed(_merged(cuts)):
        edits.insert(0, Edit(text[cut.start:cut.end], cut.text, cut.category, cut.action))
        text = text[:cut.start] + cut.text + text[cut.end:] if cut.text else _remove(text, cut.start, cut.end)
    if disclose is not None and disclosure not in text:
        text = "\n".join(part for part in (text.rstrip(), disclosure) if part)
        edits.append(Edit("", disclosure, disclose.category, DISCLOSE))
    return text, edits


def _merged(cuts: list[_Cut]) -> list[_Cut]:
    """Overlapping cuts as one, over their union, with the action that removes most (its category and text); so are
    touching removals (the tidying of one may take a mark the other ends with)."""
    out: list[_Cut] = []
    for cut in sorted(cuts, key=lambda c: (c.start, -c.end)):
        touching = out and cut.start == out[-1].end and REPLACE not in (cut.action, out[-1].action)
        if out and (cut.start < out[-1].end or touching):
            last = out[-1]
            lead = max(last, cut, key=lambda c: _RANK[c.action])
            out[-1] = _Cut(last.start, max(last.end, cut.end), lead.action, "" if lead.action != REPLACE else lead.text, lead.category)
        else:
            out.append(cut)
    return out


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The clauses holding ``text[start:end]`` (between ，；。！？、 or line breaks), without their end marks."""
    while end > start and text[end - 1] in _CLAUSE_ENDS + _SPACE:
        end -= 1
    while start < end and text[start] in _CLAUSE_ENDS + _SPACE:
        start += 1
    a = max(text.rfind(ch, 0, start) for ch in _CLAUSE_ENDS) + 1
    b = min((i for i in (text.find(ch, end) for ch in _CLAUSE_ENDS) if i >= 0), default=len(text))
    return a, b


def _drop_sentences(text: str, findings: Sequence[Finding]) -> tuple[str, list[Edit]]:
    """The final fallback: every sentence overlapping a finding removed (right to left)."""
    spans: dict[tuple[int, int], str] = {}
    for f in findings:
        for a, b in sentence_spans(text):
            if a < max(f.end, f.start + 1) and b > f.start:
                spans.setdefault((a, b), f.category)
    edits: list[Edit] = []
    for (a, b), category in sorted(spans.items(), reverse=True):
        edits.insert(0, Edit(text[a:b], "", category, SENTENCE))
        while b > a and text[b - 1] in _CLAUSE_ENDS:
            b -= 1
        text = _remove(text, a, b)
    return text, edits


def _left(text: str, i: int) -> int:
    """Index of the last character before ``i`` that is not a space or tab (-1 at the start)."""
    i -= 1
    while i >= 0 and text[i] in _SPACE:
        i -= 1
    return i


def _right(text: str, i: int) -> int:
    """Index of the first character from ``i`` on that is not a space or tab (``len(text)`` at the end)."""
    while i < len(text) and text[i] in _SPACE:
        i += 1
    return i


def _kind(text: str, i: int) -> str:
    if i < 0 or i >= len(text) or text[i] == "\n":
        return "line"
    return "weak" if text[i] in _WEAK else "strong" if text[i] in _STRONG else "other"


def _remove(text: str, start: int, end: int) -> str:
    """``text`` without ``[start, end)``, tidied where the cut leaves an empty clause: no doubled or dangling
    punctuation, no emptied quotation marks or brackets, no empty line."""
    text = text[:start] + text[end:]
    left, right = _left(text, start), _right(text, start)
    while left >= 0 and right < len(text) and _PAIRS.get(text[left]) == text[right]:
        text = text[:left] + text[right + 1:]
        left, right = _left(text, left), _right(text, left)
    lk, rk = _kind(text, left), _kind(text, right)
    if "other" in (lk, rk):
        return text
    if rk == "weak":  # "A，|，C" "。|，C" "|，C": the mark after the gap goes
        return text[:left + 1] + text[right + 1:]
    if lk == "weak":  # "A，|。" "A，|⏎": the mark before the gap goes
        return text[:left] + text[right:]
    if rk == "strong":  # "。|。" "⏎|。": the whole sentence is gone, its end marks too
        while right < len(text) and text[right] in _STRONG:
            right += 1
        text = text[:left + 1] + text[right:]
        right = _right(text, left + 1)
        if lk == "strong" or _kind(text, right) != "line":
            return text
    if lk == "strong":
        return text[:left + 1] + text[right:]
    return _drop_line(text, left, right)


def _drop_line(text: str, left: int, right: int) -> str:
    """``text`` without the empty line between the line breaks (or text ends) at ``left`` and ``right``."""
    if left < 0:
        return text[right + 1:].lstrip("\n") if right < len(text) else ""
    if right >= len(text):
        return text[:left].rstrip("\n")
    text = text[:left] + text[right:]
    a = b = left
    while a > 0 and text[a - 1] == "\n":
        a -= 1
    while b < len(text) and text[b] == "\n":
        b += 1
    return text[:a] + "\n" * min(b - a, 2) + text[b:]
