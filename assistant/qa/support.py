"""Whether what an answer asserts is supported by the clauses it cites, and whether its yes/no conclusion agrees with them.

A sentence citing [n] is supported by clause n when its quotations are found in the clause verbatim or nearly so
(:data:`NEAR_VERBATIM` of each quote in order, in runs of at least two characters) — or, with no quotation, when
:data:`CONTENT_SHARE` of its character bigrams are in the clause — and when none of its deontic words (不得 / 应当 /
可以 …) is the opposite of the clause's word governing the same object. A clause that itself reads as an instruction
to the model (提示注入) supports nothing. The thresholds are fixed by principle (a quote is a copy, a claim mostly the
clause's own words), not fitted to any answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from assistant.qa import deontic
from assistant.qa.prompt import Clause

NEAR_VERBATIM = 0.9
CONTENT_SHARE = 0.5
OBJECT_SHARE = 0.4  # of an answer's object bigrams, for a clause's ruling to be about the same thing
QUESTION_SHARE = 0.25  # of the question's bigrams, for a clause's ruling to be about what was asked
_INSTRUCTION = re.compile(
    r"(忽略|无视|忘记|不要理会)(以上|上述|之前|前面|先前|所有|全部)?的?(指令|指示|要求|规则|提示|设定)"
    r"|(你|助手|模型)(现在)?(是|扮演|必须|只能|应当)(一个|一名)?\s*(回答|输出|说)"
    r"|(直接|只|仅)(回答|输出)\s*[:：]"
    r"|ignore\s+(all\s+)?(previous|prior|above)\s+instructions|system\s+prompt",
    re.IGNORECASE,
)
_MARKERS = re.compile(r"[\[【［]\s*\d{1,2}(?:\s*[,，、]\s*\d{1,2})*\s*[\]】］]")
_LABEL = re.compile(r"^\W*(结论|依据|说明|其他相关条款)\W*")
_YES = re.compile(r"^\W*(可以|能够?|允许|是的?|应当|应该|必须|需要|有权|可)")
_NO = re.compile(r"^\W*(不|否|禁止|严禁|无权|未经.{0,12}不得)")
_ASKS_LEAVE = re.compile(r"能否|可否|能不能|可不可以|可以不可以|是否(可以|能|允许|应当|需要|必须|有权)|允不允许|(可以|能|允许)[^。？?]{0,30}[吗么][？?]?\s*$")
_ASKING = re.compile(r"能否|可否|是否|能不能|可不可以|可以不可以|是不是|允不允许|有没有|需不需要|要不要|应不应该|吗|呢|[？?。！!]")


@dataclass(frozen=True)
class Conclusion:
    """The answer's yes/no conclusion and whether the clauses bear it out."""

    text: str
    sign: int | None  # deontic.PROHIBIT for 不能/不得…, deontic.ALLOW for 可以/应当…, None when not a yes/no answer
    supported: bool
    reason: str = ""

    def as_json(self) -> dict:
        """The public JSON shape."""
        return {"text": self.text, "supported": self.supported, "reason": self.reason}


def instruction_like(text: str) -> bool:
    """Whether a clause's text reads as an instruction to the model rather than a rule (a prompt injection)."""
    return _INSTRUCTION.search(text) is not None


def _in_order_share(quote: str, text: str) -> float:
    quote, text = (re.sub(r"[\s\W_]+", "", t) for t in (quote, text))
    if not quote:
        return 1.0
    if quote in text:
        return 1.0
    blocks = SequenceMatcher(None, quote, text, autojunk=False).get_matching_blocks()
    return sum(b.size for b in blocks if b.size >= 2) / len(quote)


def near_verbatim(quote: str, clause_text: str) -> bool:
    """Whether ``quote`` is in the clause verbatim, or with at most a tenth of it differing (punctuation and spaces ignored)."""
    return _in_order_share(quote, clause_text) >= NEAR_VERBATIM


def plain_claim(sentence: str) -> str:
    """The sentence without its [n] markers and section label."""
    return _LABEL.sub("", _MARKERS.sub("", sentence)).strip()


def sentence_problem(sentence: str, quotes: list[str], clause: Clause) -> str:
    """Why clause ``clause`` does not support ``sentence`` (with its ``quotes``), or ``""`` when it does."""
    if instruction_like(clause.text):
        return f"[{clause.n}] 的文字含有指令性内容（疑似提示注入），不能作为依据"
    claim = plain_claim(sentence)
    if not quotes and not deontic.bigrams(claim):
        return f"句中除编号 [{clause.n}] 外没有可核验的内容"
    if quotes:
        bad = next((q for q in quotes if not near_verbatim(q, clause.text)), None)
        if bad is not None:
            return f"引文“{bad[:30]}”未在 [{clause.n}] 中逐字出现"
    else:
        words = deontic.bigrams(claim)
        base = deontic.bigrams(f"{clause.doc_title}{clause.article or ''}{clause.path}{clause.text}")
        if words and len(words & base) < CONTENT_SHARE * len(words):
            return f"所述内容与 [{clause.n}] 的原文相去较远，无法核实"
    for said in deontic.claims(claim):
        rule = deontic.governing(said.scope, clause.text, OBJECT_SHARE)
        if rule is not None and rule.sign != said.sign:
            return f"句中“{said.word}{said.scope[:12]}”与 [{clause.n}]“{rule.word}{rule.scope[:16]}”意思相反"
    return ""


def conclusion_text(answer: str) -> str:
    """The answer's conclusion: its 结论 line (or the line after a bare 结论：) when it has one, else its first sentence."""
    lines = answer.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\W*结论", line):
            text = plain_claim(line)
            return text or next((plain_claim(rest) for rest in lines[i + 1 :] if plain_claim(rest)), "")
    first = re.split(r"[。！？!?\n]", answer.strip(), maxsplit=1)[0]
    return plain_claim(first)


def conclusion_sign(text: str) -> int | None:
    """PROHIBIT for a "no" (不能 / 不得 / 禁止 …), ALLOW for a "yes" (可以 / 应当 …): by how it opens, else by its first
    deontic word (证券公司可以……); None when it has neither."""
    if _NO.match(text):
        return deontic.PROHIBIT
    if _YES.match(text):
        return deontic.ALLOW
    said = deontic.claims(text)
    return said[0].sign if said else None


def check_conclusion(answer: str, question: str, clauses: list[Clause], rests_on: list[int]) -> Conclusion | None:
    """Check the yes/no conclusion against the clauses it rests on (``rests_on``: verified citations): none of them may
    rule the opposite way on what the question asks about or on what the conclusion itself states, a "yes or no"
    question needs a yes or a no, and there must be such a clause; ``None`` when the answer is empty."""
    text = conclusion_text(answer)
    if not text:
        return None
    sign = conclusion_sign(text)
    if not rests_on:
        return Conclusion(text, sign, False, "结论没有任何经核验的条款作依据")
    if sign is None:
        asks = _ASKS_LEAVE.search(question) is not None
        return Conclusion(text, sign, not asks, "问题问的是能否，结论却没有明确回答能或不能" if asks else "")
    subject = _ASKING.sub("", question)
    by_n = {c.n: c for c in clauses}
    for n in rests_on:
        clause = by_n.get(n)
        if clause is None:
            continue
        # What the question asks about, and what the conclusion itself says (证券公司可以……), each against the clause.
        pairs = [(sign, deontic.governing(subject, clause.text, QUESTION_SHARE))]
        pairs += [(said.sign, deontic.governing(said.scope, clause.text, OBJECT_SHARE)) for said in deontic.claims(text)]
        for said_sign, rule in pairs:
            if rule is not None and rule.sign != said_sign:
                where = f"[{n}]《{clause.doc_title}》{clause.article or ''}"
                return Conclusion(text, sign, False, f"结论与 {where}“{rule.word}{rule.scope[:20]}”相抵触")
    return Conclusion(text, sign, True)
