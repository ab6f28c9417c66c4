"""Answer a compliance question from retrieved clauses, stream it, verify its citations and audit it."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import duckdb

from assistant.qa.prompt import Clause, Turn, answer_messages, fitting, rewrite_messages
from assistant.qa.support import Conclusion, check_conclusion, conclusion_text
from assistant.qa.verify import Citation, Claim, verify
from comply import audit
from comply.config import Settings
from comply.db import transaction
from comply.levels import level_name
from comply.llm.client import LlmError
from comply.llm.protocol import ChatModel
from retrieval.search import Searcher

NO_MATCH = "未找到依据"
LLM, RETRIEVAL_ONLY = "llm", "retrieval-only"
RETRIEVE, GENERATE, VERIFY = "retrieve", "generate", "verify"
STAGES = {RETRIEVE: "检索中…", GENERATE: "生成中…", VERIFY: "核验中…"}  # stage → what the user is shown
_NO_BASIS = re.compile(r"(未|没有|无法)找到(相关|任何)?的?(依据|条款)")  # said as the conclusion
_ALL_UNRELATED = re.compile(r"(所有|全部|各|这些|上述)的?(参考)?条款(都|均)?(与|和|跟)(本|该)?问题无关")  # said anywhere
OTHERS_FROM = 3  # clauses ranked this high that the answer does not use are shown under 其他相关条款
_FOLLOW_UP = re.compile(r"^(那|那么|如果|若|还有|另外|此外|它|这|该|上述|其|此|同样|也)|[它其该此这那]")


@dataclass
class Answer:
    """A finished answer with its verified citations and linked cases."""

    question: str
    query: str
    answer: str
    citations: list[Citation]
    cases: list[dict]
    clauses: list[Clause]
    mode: str
    model: str | None
    ttft_s: float | None
    total_s: float
    notice: str = ""
    claims: list[Claim] = field(default_factory=list)
    conclusion: Conclusion | None = None
    draft: str = ""  # the model's text as streamed, when the answer shown is 未找到依据 instead
    audit_seq: int | None = field(default=None, repr=False)

    @property
    def others(self) -> list[Clause]:
        """Top-ranked clauses the answer does not rest on (其他相关条款)."""
        used = {c.n for c in self.citations if c.verified}
        return [c for c in self.clauses[:OTHERS_FROM] if c.n not in used] if self.mode == LLM else []

    def as_json(self) -> dict:
        """Exactly the shape ``comply ask --json`` prints and outside scripts read."""
        return {
            "answer": self.answer,
            "conclusion": None if self.conclusion is None else self.conclusion.as_json(),
            "claims": [c.as_json() for c in self.claims],
            "other_clauses": [{"n": c.n, "doc_title": c.doc_title, "article": c.article} for c in self.others],
            "draft": self.draft,
            "citations": [c.as_json() for c in self.citations],
            "cases": [{"case_id": c["case_id"], "title": c["title"]} for c in self.cases],
            "mode": self.mode,
            "model": self.model,
            "ttft_s": None if self.ttft_s is None else round(self.ttft_s, 3),
            "total_s": round(self.total_s, 3),
        }


def standalone_query(client: ChatModel | None, question: str, history: list[Turn]) -> str:
    """The question rewritten to stand alone, so that a follow-up retrieves the right clauses.

    With a model the rewrite is generated; without one (or if it fails or rambles) a follow-up that
    leans on earlier turns is prefixed with the previous question.
    """
    if not history:
        return question
    if client is not None:
        try:
            text = client.complete(rewrite_messages(question, history), max_tokens=80, temperature=0.0).strip()
        except LlmError:
            text = ""
        if 2 <= len(text) <= 200 and "\n" not in text.strip():
            return text
    if _FOLLOW_UP.search(question) or len(question) < 12:
        return f"{history[-1].question} {question}"
    return question


def _clauses(searcher: Searcher, query: str, clearance: int, settings: Settings) -> list[Clause]:
    """The clauses to answer from; none (未找到依据) when none reaches the relevance floor, or none shares a term with
    the question."""
    hits = searcher.search(query, k=settings.qa_clauses, clearance=clearance)
    if not searcher.shares_terms(query, hits):
        return []
    return [Clause(n, h.chunk_id, h.doc_title, h.article, h.path, h.text, h.level, h.notice) for n, h in enumerate(hits, start=1)]


def retrieval_only_text(clauses: list[Clause], reason: str, max_chars: int) -> str:
    """The answer shown when no model is used: the best clauses, labelled plainly."""
    lines = [f"未使用大模型（{reason}）。以下是与问题最相关的条款原文，请据此判断："]
    for c in clauses:
        body = c.text if len(c.text) <= max_chars else c.text[:max_chars] + "……"
        lines.append(f"[{c.n}] {c.path}：{body}")
    return "\n".join(lines)


def _linked_cases(searcher: Searcher, citations: list[Citation], clearance: int) -> list[dict]:
    ids = [c.chunk_id for c in citations if c.verified and c.chunk_id]
    seen: dict[str, dict] = {}
    for cases in searcher.cases_for_chunks(ids, clearance).values():
        for case in cases:
            seen.setdefault(case["case_id"], case)
    return sorted(seen.values(), key=lambda c: c["case_id"])


class QuestionTooLong(ValueError):
    """The question exceeds ``max_question_chars``; nothing was retrieved, generated or stored."""


def check_question(settings: Settings, question: str) -> None:
    """Raise :class:`QuestionTooLong` (in Chinese) when the question is longer than ``max_question_chars``."""
    if len(question) > settings.max_question_chars:
        raise QuestionTooLong(f"问题过长：共 {len(question)} 字，最多 {settings.max_question_chars} 字，请精简后重新提问")


def stream_answer(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    question: str,
    *,
    client: ChatModel | None,
    no_llm_reason: str = "未配置大模型",
    clearance: int = 0,
    user: str = "anonymous",
    history: list[Turn] | None = None,
    on_stage: Callable[[str], object] | None = None,
) -> Generator[str, None, Answer]:
    """Yield answer text as it is generated; return the verified :class:`Answer` (``yield from``).

    A question longer than ``max_question_chars`` raises :class:`QuestionTooLong` at once, before anything
    runs. Retrieval uses ``clearance``, so no clause above it reaches the model or the user. With no
    relevant clause the answer is 未找到依据 and no model is called. If the model fails, the
    answer falls back to the retrieved clauses and says so. The exchange is appended to the audit log.
    ``on_stage`` is told each stage as it starts (one of :data:`STAGES`), for a progress indicator.
    """
    check_question(settings, question)
    return _stream(settings, con, question, client, no_llm_reason, clearance, user, history, on_stage or (lambda _stage: None))


def _stream(
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    question: str,
    client: ChatModel | None,
    no_llm_reason: str,
    clearance: int,
    user: str,
    history: list[Turn] | None,
    on_stage: Callable[[str], object],
) -> Generator[str, None, Answer]:
    started = time.perf_counter()
    on_stage(RETRIEVE)
    history = (history or [])[-settings.qa_history_turns :] if settings.qa_history_turns else []
    query = standalone_query(client, question.strip(), history)
    searcher = Searcher(settings, con)
    clauses = _clauses(searcher, query, clearance, settings) if query else []
    ttft: float | None = None
    mode, model, notice = RETRIEVAL_ONLY, None, ""
    claims: list[Claim] = []
    conclusion: Conclusion | None = None
    draft = ""
    if not clauses:
        text, citations = NO_MATCH, []
        yield text
    else:
        reason = no_llm_reason
        if client is not None:
            on_stage(GENERATE)
            pieces: list[str] = []
            given = [c for c, _ in fitting(clauses, settings.qa_clause_chars, query, settings.qa_context_chars)]
            messages = answer_messages(query, given, settings.qa_clause_chars)
            try:
                for piece in client.stream(messages, max_tokens=settings.qa_answer_tokens):
                    ttft = ttft if ttft is not None else time.perf_counter() - started
                    pieces.append(piece)
                    yield piece
                mode, model = LLM, client.model
            except LlmError as exc:
                reason = f"大模型调用失败：{exc}"
                notice = reason
                if pieces:
                    yield "\n\n"
        if mode == LLM:
            on_stage(VERIFY)
            text, citations, claims, conclusion, draft, notice = _checked("".join(pieces), query, given)
        else:
            text = retrieval_only_text(clauses, reason, settings.qa_clause_chars)
            citations = [Citation(c.n, c.chunk_id, c.doc_title, c.article, True, notice=c.notice) for c in clauses]
            yield text
    cases = _linked_cases(searcher, citations, clearance) if citations and text != NO_MATCH else []
    result = Answer(question, query, text, citations, cases, clauses, mode, model, ttft, time.perf_counter() - started, notice,
                    claims, conclusion, draft)
    result.audit_seq = record(con, user, clearance, result)
    return result


def _checked(raw: str, query: str, clauses: list[Clause]) -> tuple[str, list[Citation], list[Claim], Conclusion | None, str, str]:
    """The model's text checked: (answer, citations, claims, conclusion, draft, notice).

    The streamed text is kept: as the answer when something in it is supported, else as ``draft`` beside 未找到依据
    (shown, marked, never silently replaced). A model that says no clause bears on the question has no conclusion.
    """
    checked = verify(raw, clauses)
    text = checked.text.strip()
    rests_on = [c.n for c in checked.supported]
    says_no_basis = bool(_NO_BASIS.search(conclusion_text(raw)) or _ALL_UNRELATED.search(raw))
    conclusion = None if says_no_basis and text.startswith(NO_MATCH) else check_conclusion(text, query, clauses, rests_on)
    if says_no_basis:
        concluded = conclusion is not None and conclusion.sign is not None
        notice = "大模型称参考条款都与问题无关，却仍给出了结论，该结论不予采用" if concluded else ""
        draft = "" if re.fullmatch(rf"\W*{NO_MATCH}\W*", raw) else raw.strip()
        return NO_MATCH, checked.citations, checked.claims, conclusion, draft, notice
    if not rests_on:
        notice = ("大模型的回答没有引用任何检索到的条款，已不予采用" if not checked.citations
                  else "大模型的回答中没有一处引用通过核验，已不予采用；原回答保留在下方，供核对")
        return NO_MATCH, checked.citations, checked.claims, conclusion, raw.strip(), notice
    failed = sum(1 for c in checked.claims if c.supported is False)
    notes = [f"结论未通过核验：{conclusion.reason}"] if conclusion is not None and not conclusion.supported else []
    notes += [f"有 {failed} 句未通过核验，已标出"] if failed else []
    return text, checked.citations, checked.claims, conclusion, "", "；".join(notes)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def record(con: duckdb.DuckDBPyConnection, user: str, clearance: int, answer: Answer) -> int:
    """Append the exchange to the hash-chained audit log; returns its sequence number.

    The row holds no text: the question, rewritten query and answer as SHA-256 and length (the text itself is
    in the clearance-filtered chat history), the clauses' chunk ids and, as ``level``, the highest level among
    the clauses the answer drew on.
    """
    detail = {
        "clearance": level_name(clearance),
        "level": level_name(max((c.level for c in answer.clauses), default=0)),
        "question_sha256": _sha256(answer.question),
        "question_chars": len(answer.question),
        "query_sha256": _sha256(answer.query),
        "retrieved": [c.chunk_id for c in answer.clauses],
        "citations": [{"n": c.n, "chunk_id": c.chunk_id, "verified": c.verified} for c in answer.citations],
        "conclusion_supported": None if answer.conclusion is None else answer.conclusion.supported,
        "claims_unsupported": sum(1 for c in answer.claims if c.supported is False),
        "answer_sha256": _sha256(answer.answer),
        "answer_chars": len(answer.answer),
        "mode": answer.mode,
        "model": answer.model,
        "ttft_s": None if answer.ttft_s is None else round(answer.ttft_s, 3),
        "total_s": round(answer.total_s, 3),
    }
    with transaction(con):
        return audit.append(con, user, "qa.ask", None, detail)


def consume(gen: Generator[str, None, Answer], on_piece: Callable[[str], object] | None = None) -> Answer:
    """Run a :func:`stream_answer` generator to the end, passing each piece to ``on_piece``."""
    while True:
        try:
            piece = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_piece is not None:
            on_piece(piece)


def ask(settings: Settings, con: duckdb.DuckDBPyConnection, question: str, **kwargs: object) -> Answer:
    """:func:`stream_answer` without the streaming."""
    return consume(stream_answer(settings, con, question, **kwargs))  # type: ignore[arg-type]
