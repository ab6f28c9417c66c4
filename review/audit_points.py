"""Audit points (审核要点): the obligations and prohibitions of one regulation in the knowledge base, as a checklist.

Deterministic extraction from the live chunks of one document (no LLM):

- A chunk is split into paragraphs, a paragraph into units at 。！？； (each unit is verbatim source text, kept
  as the point's ``source_text``; a 项 is quoted whole). Every modal verb (应当 / 应 / 必须 / 须 / 不得 / 不应 /
  禁止 / 严禁 …) that heads a duty starts a point, which runs to the clause before the next modal verb; modal
  verbs inside conditions or noun phrases ("依法应当报告的，", "应当知道", "法律规定不得从事…的人员") head none.
- Enumerations: a lead-in ending in "：" whose modal phrase names 下列… ("证券公司不得有下列行为：") yields one
  point per 项 with the lead-in's subject and modal verb applied ("不得" + 项). When 下列… is in the condition
  ("有下列情形之一的，不得担任…"), each 项 becomes the condition; "但下列情形除外" lists the 项 as exceptions of one
  point. A 项 with a modal verb of its own is read as a sentence; the 项 of a lead-in that grants powers or sets
  sanctions (可以 / 有权 / 罚款 …) are skipped.
- Penalties are left out, not marked: a checklist is about duties, not their consequences. So are articles in
  法律责任 / 罚则 chapters, sanction or liability phrases (责令改正, 罚款, 没收, 吊销, 追究刑事责任, 承担赔偿责任 …),
  definitions and effective-date clauses (所称 / 是指 / 自…起施行), rules addressed to the courts (应当认定为 …,
  定罪处罚) and, unless ``authority_duties=True``, duties of regulators and other public authorities
  (国务院证券监督管理机构应当…), which a firm cannot tick off.
- Subject: an actor phrase, ending in an actor noun or in a role head from the posts the knowledge base's cases
  name (:mod:`review.role_nouns`: 经理, 顾问, 负责人 …), that never ends after two or more characters of a word
  (jieba, with those posts as user words: 客户经理 is not 客户 + 经理…). It is the actor right before the modal verb
  ("…，收购人必须"), else the one opening the first clause ("证券公司从事…业务，"); else the last one named earlier in the same article; else the document's default (an
  institution opening its title: 证券公司监督管理条例 → 证券公司; 人民法院 for a judicial interpretation); else "".
- Points are de-duplicated on (article, kind, requirement): a 款 split across chunks repeats its lead-in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import duckdb

from comply.lawtext.numerals import ITEM_NUMERAL
from retrieval.lookup import find_document
from review.role_nouns import Roles, case_roles

KINDS = {"prohibition": "禁止性", "obligation": "义务性"}

_PROHIBITION = r"不应当|不应|不得|(?<!或者)(?<!和)禁止(?!性|进入者)|严禁|不准(?!确)|不许"
_OBLIGATION = (
    r"应当|必须|(?<![无毋必])须(?!知)|"
    r"(?<![相适对供反响回呼感答报效顺照])应(?![用对急收付税纳届聘试征变激答声有的当])"
)
_MODAL = re.compile(rf"(?<![被所予以])(?:{_PROHIBITION}|{_OBLIGATION})(?!的|知道)")
_IS_PROHIBITION = re.compile(rf"^(?:{_PROHIBITION})")
_ITEM = re.compile(rf"^[（(]{ITEM_NUMERAL}[）)]\s*")
_UNIT = re.compile(r"[^。！？；!?;]+[。！？；!?;]?")
_BOUNDARY = "，,；;：:"

_ACTOR = (
    r"(?:公司|机构|人|者|员|员工|职工|单位|组织|企业|部门|股东|董事|监事|会|交易所|事务所|场所|银行|社|平台|中心|"
    r"商|客户|用户|商户|广告主|主体|机关|法院|检察院|国务院|方)"
)
_ACTOR_END = re.compile(rf"{_ACTOR}$")
_INSTITUTION_END = re.compile(r"(?:公司|机构|管理人|托管人|人员|员工|职工|经营者|企业|银行|交易所|平台)$")
_NOT_IN_SUBJECT = re.compile(
    r"在|对(?!外)|向|被|以(?!及|上)|为|将|把|按照|依照|依据|根据|违反|通过|从事|办理|买卖|发行(?!人)|收购(?!人)|"
    r"设立|申请(?!人)|持有(?!人)|成为|时|未|不|应|须|得|是|有(?!限|关)|下列|以下|或者$|实行|进入|采取|采用|参与|担任|接受|"
    r"提供(?!者)|使用(?!者|人)|基于|给"
)
# What may follow a subject in its clause: a verb, a preposition or a modal (not 的 or a noun such as 债券).
_PREDICATE = re.compile(
    r"^(?!以及)(?:[应不须必严禁在对向为与将把以经自从于因已未可有拟要需按依根通委设变违买卖承持聘作做制建发销推开使"
    r"进处收利提办接申遵履保采配如即均仅还也亦另负转受取报披签出招参组实达停解离合分投募编传获占挪截侵泄隐伪篡毁拒阻强基"
    r"指协备直间擅私同就是得予给核审管运施加减增归留存立任当]|公告|公开|公布|公示)"
)
_ADVERBIAL = re.compile(r"^(?:除|在|对于|对|为了|为|因|按照|依照|根据|依据|经|自|当|如|若|凡|基于|通过|未经|没有|以|或者|或|并|但|其余|同时)")
_AUTHORITY = re.compile(
    r"国务院|人民政府|监督管理机构|监管机构|派出机构|主管部门|有关部门|管理部门|人民法院|人民检察院|行政机关|公安机关|"
    r"网信部门|证监会|人民银行|审计机关|税务机关|海关|执法人员|国家机关|有关机关|监督管理部门|金融管理部门|登记机关|审查机关"
)
_PENALTY = re.compile(
    r"责令(?:改正|停止|限期|暂停|关闭|停业)|没收|罚款|罚金|警告|吊销|撤销[^，。；]{0,12}(?:资格|许可|职务)|"
    r"追究[^，。；]{0,8}责任|给予[^，。；]{0,10}处分|依法处分|拘留|有期徒刑|拘役|构成犯罪|市场禁入|依法惩处|定罪|论处|判处|"
    r"承担(?:(?!社会|主体|管理)[^，。；]){0,8}责任"
)
_JUDICIAL = re.compile(
    r"^(?:应当|应|须|必须)?(?:认定|以[^，。；]{0,24}罪|依照[^，。；]{0,40}(?:定罪|处罚|论处)|定罪|判处|判决|裁定|"
    r"予以支持|不予支持|从重|从轻|从宽|减轻|免除处罚|视为|中止|终止诉讼|驳回|受理|审理|追加)"
)
_DEFINITION = re.compile(
    r"所称|是指|指的是|(?:本|此)(?:法|条例|办法|规定|细则|解释|规则|守则|手册|制度)[^。；]{0,24}(?:起|之日)施行|参照本"
)
_PENALTY_CHAPTER = re.compile(r"法律责任|罚则")
_NO_DUTY_LEAD = re.compile(r"可以|有权|不予")
_CRIMINAL_CONTEXT = re.compile(r"定罪|判处|量刑|刑罚")
_LEADING_CONNECTIVE = re.compile(r"^(?:但是|但|并且|而且|并|且|也|同时|或者|和)[，,]?")
_CONSEQUENCE = re.compile(r"[，,；;](?=违者|违反(?:本|前|上述))")
_LIST_REF = re.compile(r"(?:下列|以下)[^，。；：:]{0,10}")
_LIST_AT_END = re.compile(r"(?:下列|以下)[^，。；：:]{0,6}$")
_EXCEPTION = re.compile(r"[，,]?\s*但(?:是)?[^，。；]{0,20}?(?:下列|以下)[^，。；]{0,10}除外|除(?:下列|以下)[^，。；]{0,12}外[，,]?")
_HAS_ONE_OF = re.compile(r"有(?:下列|以下)[^，。；]{0,6}之一的?")
_GENERIC_VERBS = ("有", "从事", "实施", "进行", "存在", "遵守", "履行", "做到", "采取", "作出", "做出")
_NOUN_ITEM = re.compile(r"^其他|的其他[\u4e00-\u9fff]{1,6}$")


@dataclass(frozen=True)
class AuditPoint:
    """One checklist item: a duty or prohibition, who bears it, and the verbatim source it rests on."""

    n: int
    kind: str
    subject: str
    requirement: str
    source_text: str
    chunk_id: str
    doc_title: str
    article: str | None
    path: str

    @property
    def kind_label(self) -> str:
        """类型 as shown to users: 禁止性 / 义务性."""
        return KINDS[self.kind]

    @property
    def reference(self) -> str:
        """依据条款, e.g. 《中华人民共和国证券法》第一百三十五条 (the chunk path when there is no article)."""
        return f"《{self.doc_title}》{self.article}" if self.article else self.path


@dataclass(frozen=True)
class _Draft:
    """A point before numbering; ``subject`` is None when the text names none."""

    kind: str
    subject: str | None
    requirement: str
    source_text: str


@dataclass(frozen=True)
class _Seg:
    """One modal phrase of a unit: its kind, subject, context (conditions before the modal) and text."""

    kind: str
    subject: str | None
    context: str
    text: str


@dataclass
class _Lead:
    """An enumeration lead-in ("证券公司不得有下列行为：") waiting for its 项."""

    mode: str  # 'object' | 'condition' | 'exception'
    seg: _Seg
    unit: str
    items: list[str]


def extract_audit_points(
    con: duckdb.DuckDBPyConnection, doc_id_or_title: str, clearance: int, *, authority_duties: bool = False
) -> list[AuditPoint]:
    """The audit points of one live document visible at ``clearance``, in document order.

    ``authority_duties=True`` also keeps the duties of regulators and other public authorities.

    Raises:
        LookupError: unknown document, or one above the caller's clearance.
    """
    doc_id, title = find_document(con, doc_id_or_title, clearance)
    chunks = con.execute(
        "SELECT chunk_id, article, chapter, path, text FROM chunks WHERE doc_id = ? ORDER BY ord", [doc_id]
    ).fetchall()
    roles = case_roles(con, clearance)
    default = _default_subject(title, roles)
    last_subject: dict[str, str] = {}
    points: list[AuditPoint] = []
    seen: set[tuple[str | None, str, str]] = set()
    for chunk_id, article, chapter, path, text in chunks:
        if chapter and _PENALTY_CHAPTER.search(chapter):
            continue
        for d in _chunk_drafts(text, last_subject.get(article) if article else None, roles):
            if article and d.subject and not d.subject.startswith("任何"):
                last_subject[article] = d.subject
            subject = d.subject or default
            if not authority_duties and _AUTHORITY.search(subject):
                continue
            key = (article, d.kind, d.requirement)
            if key not in seen:
                seen.add(key)
                points.append(AuditPoint(len(points) + 1, d.kind, subject, d.requirement, d.source_text,
                                         chunk_id, title, article, path))
    return points


def _default_subject(title: str, roles: Roles) -> str:
    """An institution that opens the title (证券公司监督管理条例 → 证券公司, 员工执业行为守则 → 员工), else ""."""
    name = title.removeprefix("中华人民共和国")
    if name.startswith("最高人民法院"):
        return "人民法院"  # a judicial interpretation: a rule without a named subject is addressed to the courts
    for end in range(min(len(name), 8), 1, -1):
        if _valid_subject(name[:end], roles) and _INSTITUTION_END.search(name[:end]):
            return name[:end]
    return ""


def _drop_pronoun(text: str) -> str:
    """其董事会 → 董事会 (but not 其他…)."""
    return text[1:] if text.startswith("其") and not text.startswith("其他") else text


def _penal(text: str) -> bool:
    """Whether text states a sanction or liability (被吊销… in a condition does not count)."""
    return any(text[m.start() - 1 : m.start()] != "被" for m in _PENALTY.finditer(text))


def _valid_subject(text: str, roles: Roles) -> bool:
    """Whether text reads as an actor noun phrase: 证券公司的从业人员, 任何单位和个人, 基金管理人、基金托管人, 理财经理."""
    if not text or len(text) > 60 or not re.fullmatch(r"[\u4e00-\u9fff、]+", text) or _NOT_IN_SUBJECT.search(text):
        return False
    return all(_ACTOR_END.search(part) or roles.is_role(part) for part in text.split("、"))


def _leading_subject(clause: str, roles: Roles) -> str | None:
    """The shortest actor phrase that opens a clause and is followed by a verb (or ends the clause), never ending after
    two or more characters of a word (客户|经理在…: 客户经理 is one word; 个人|均 may be cut, 人均 being a misreading)."""
    clause = _drop_pronoun(clause.strip())
    inside = {e for s, t in roles.spans(clause[:61]) for e in range(s + 2, t)}
    for end in range(2, min(len(clause), 60) + 1):
        head = clause[:end]
        if end not in inside and _valid_subject(head, roles) and (end == len(clause) or _PREDICATE.match(clause[end:])):
            return head
    return None


def _subject_before(before: str, roles: Roles) -> tuple[str | None, str]:
    """(subject, context) of the text before a unit's first modal verb.

    The subject is the actor right before the modal verb ("…，收购人必须") or else the one opening the first
    clause that is not adverbial ("证券公司从事证券资产管理业务，"); the context is the rest of the text.
    """
    cut = max(before.rfind(c) for c in _BOUNDARY) + 1
    tail = before[cut:].strip()
    tail = _drop_pronoun(tail)
    if tail and _leading_subject(tail, roles) == tail:
        return tail, before[:cut]
    pos = 0
    for clause in re.split(r"([，,])", before):
        if clause in "，,":
            pos += len(clause)
            continue
        stripped_clause = clause.strip()
        if stripped_clause and not _ADVERBIAL.match(stripped_clause):
            subject = _leading_subject(stripped_clause, roles)
            if subject:
                at = before.find(subject, pos)
                return subject, (before[:pos] + before[at + len(subject):]).lstrip("，, 的")
        pos += len(clause)
    return None, before


def _is_condition(text: str, m: re.Match[str]) -> bool:
    """A modal verb inside a condition ("依法应当报告的，", "除应当符合…外，") heads no duty."""
    start = max(text.rfind(c, 0, m.start()) for c in _BOUNDARY) + 1
    end = min([i for i in (text.find(c, m.end()) for c in _BOUNDARY + "。！？") if i >= 0] or [len(text)])
    clause_before, clause_after = text[start : m.start()], text[m.end() : end]
    later = _MODAL.search(clause_after)
    return (
        clause_after.endswith("的")
        or ("除" in clause_before and clause_after.endswith("外"))
        or (later is not None and "的" in clause_after[: later.start()])  # 应负的民事责任不得免除
        or (clause_before.endswith(("规定", "规定的")) and "的" in clause_after)  # 法律规定不得从事基金业务的人员
        or "可以" in clause_before  # 可以将其列入限制或者禁止…
    )


def _segments(body: str, subject: str | None, roles: Roles) -> list[_Seg]:
    """The modal phrases of one unit, each with its subject and context.

    A phrase runs to the clause before the next modal verb; that clause, when there is one, is the next
    phrase's own subject ("，证券公司不得…") or condition ("，未经本人同意不得…"). Otherwise a phrase with the
    unit's subject takes the unit's context (the text between the subject and the first modal verb).
    """
    modals = [m for m in _MODAL.finditer(body) if not _is_condition(body, m)]
    if not modals:
        return []
    own, context = _subject_before(body[: modals[0].start()], roles)
    context = _LEADING_CONNECTIVE.sub("", context)
    first = own or subject
    segs: list[_Seg] = []
    current, own_context = first, None
    for i, m in enumerate(modals):
        end = modals[i + 1].start() if i + 1 < len(modals) else len(body)
        nxt_subject = nxt_context = None
        if i + 1 < len(modals):
            prefix_start = max(body.rfind(c, m.end(), end) for c in _BOUNDARY) + 1
            head = _LEADING_CONNECTIVE.sub("", body[prefix_start:end].strip())
            if prefix_start > 0 and head:
                end = prefix_start
                nxt_subject, nxt_context = (head, None) if _valid_subject(head, roles) else (None, head)
        text = re.sub(r"[，,；;。！？!?：:\s]*(?:并且|并|且|而且|同时|也|或者|和)?[，,；;。！？!?：:\s]*$", "", body[m.start() : end])
        text = _CONSEQUENCE.split(text, maxsplit=1)[0]
        kind = "prohibition" if _IS_PROHIBITION.match(text) else "obligation"
        if text.startswith("禁止") and (who := _leading_subject(text[2:].split("，")[0], roles)):
            if _PREDICATE.match(text[2 + len(who) :]) or who.startswith("任何"):
                current, text = who, "禁止" + text[2 + len(who) :]
        seg_context = own_context if own_context is not None else (context if current == first else "")
        segs.append(_Seg(kind, current, seg_context, text))
        current, own_context = nxt_subject or current, nxt_context
    return segs


def _keep(seg: _Seg) -> bool:
    """A duty, not a consequence (罚款, 追究刑事责任 …) or a rule addressed to the courts (应当认定为 …)."""
    return (
        len(_MODAL.match(seg.text).group(0)) < len(seg.text)
        and not _penal(seg.text)
        and not _JUDICIAL.match(seg.text)
        and not _CRIMINAL_CONTEXT.search(seg.context)
    )


def _draft(seg: _Seg, source: str) -> _Draft:
    return _Draft(seg.kind, seg.subject, f"{seg.context}{seg.text}", source)


def _chunk_drafts(text: str, inherited: str | None, roles: Roles) -> Iterator[_Draft]:
    """Drafts of one chunk in order; the subject carries over from unit to unit (not a 任何… subject)."""
    subject = inherited
    lead: _Lead | None = None
    skip_items = False  # 项 of a lead-in that grants powers or sets sanctions (可以 / 有权 / 罚款 …)
    for para in (p.strip() for p in re.split(r"\n+", text)):
        if not para:
            continue
        if _ITEM.match(para):
            body = _ITEM.sub("", para, count=1).strip()
            if skip_items:
                continue
            segs = _segments(body, lead.seg.subject if lead else subject, roles)
            if lead is not None and (lead.mode == "exception" or not segs):
                if lead.mode == "exception":
                    lead.items.append(body.rstrip("；;。.，, "))
                else:
                    yield from _item_drafts(para, body, lead)
                continue
            yield from (_draft(seg, para) for seg in segs if _keep(seg))
            continue
        if lead is not None and lead.mode == "exception":
            yield _exception_draft(lead)
        lead, skip_items = None, False
        units = _UNIT.findall(para)
        for i, unit in enumerate(units):
            unit = unit.strip()
            segs = _segments(unit, subject, roles)
            if i == len(units) - 1 and unit.endswith(("：", ":")):
                lead = _lead(unit, segs, roles) if segs else None
                if lead is not None:
                    segs = [] if lead.mode == "condition" else segs[:-1]
                else:
                    skip_items = bool(_NO_DUTY_LEAD.search(unit) or _penal(unit) or _AUTHORITY.match(unit))
            if not _DEFINITION.search(unit):
                yield from (_draft(seg, unit) for seg in segs if _keep(seg))
            named = [s.subject for s in segs if s.subject and not s.subject.startswith("任何")]
            subject = (lead.seg.subject if lead else None) or (named[-1] if named else subject)
    if lead is not None and lead.mode == "exception":
        yield _exception_draft(lead)


def _lead(unit: str, segs: list[_Seg], roles: Roles) -> _Lead | None:
    """Read a unit ending in "：" as an enumeration lead-in for its last modal phrase, if it is one."""
    seg = segs[-1]
    if _penal(unit) or _JUDICIAL.match(seg.text):
        return None
    if _EXCEPTION.search(unit):
        text = _EXCEPTION.sub("", seg.text).rstrip("：:，, ")
        context = _EXCEPTION.sub("", seg.context)
        return _Lead("exception", _Seg(seg.kind, seg.subject, context, text), unit, [])
    if _LIST_REF.search(seg.text):
        return _Lead("object", _Seg(seg.kind, seg.subject, seg.context, seg.text.rstrip("：: ")), unit, [])
    if _LIST_REF.search(segs[0].context) and "可以" not in segs[0].context:  # not "可以采取下列措施，并应当报告："
        one_of = _HAS_ONE_OF.search(segs[0].context)
        who = segs[0].context[one_of.end() :].strip("，, ") if one_of else ""
        subject = who if _valid_subject(who, roles) else segs[0].subject
        text = "，".join(x.text for x in segs).rstrip("：: ")
        return _Lead("condition", _Seg(segs[0].kind, subject, segs[0].context, text), unit, [])
    return None


def _item_drafts(para: str, body: str, lead: _Lead) -> Iterator[_Draft]:
    """One draft for a 项 under an object or condition lead-in ("不得" + 项, "项的，不得担任…")."""
    item = body.rstrip("；;。.，, ")
    seg = lead.seg
    if not item or _penal(item):
        return
    if lead.mode == "object":
        modal = _MODAL.match(seg.text).group(0)
        ref = _LIST_REF.search(seg.text)
        verb = seg.text[len(modal) : ref.start()]
        if verb in _GENERIC_VERBS and _LIST_AT_END.search(seg.text):
            verb = verb if _NOUN_ITEM.search(item) else ""
            requirement = f"{seg.context}{modal}{verb}{item}"
        else:
            requirement = f"{seg.context}{seg.text}：{item}"
    else:
        one_of = _HAS_ONE_OF.search(seg.context)
        if one_of:
            requirement = f"{item.removesuffix('的')}的，{seg.text}"
        else:
            context = _LIST_REF.sub(item, seg.context, count=1) if _LIST_REF.search(seg.context) else f"{item}的，"
            requirement = f"{context}{seg.text}"
    yield _Draft(seg.kind, seg.subject, requirement, para)


def _exception_draft(lead: _Lead) -> _Draft:
    """The duty of an exception lead-in, its 项 listed as the exceptions."""
    seg = lead.seg
    tail = f"（下列情形除外：{'；'.join(lead.items)}）" if lead.items else ""
    return _Draft(seg.kind, seg.subject, f"{seg.context}{seg.text}{tail}", lead.unit)
