"""Chat helpers: stream an answer while keeping its result, store it with its citations, read history back."""

from __future__ import annotations

from collections.abc import Generator, Iterator

from assistant.qa.answer import LLM, Answer
from assistant.qa.history import StoredMessage
from assistant.qa.prompt import Turn
from comply.levels import level_name
from comply.text import beijing_time
from ui.safe_text import plain


class AnswerStream:
    """Iterate the text pieces of a ``stream_answer`` generator; afterwards ``answer`` holds the :class:`Answer` it returned."""

    def __init__(self, gen: Generator[str, None, Answer]) -> None:
        self._gen = gen
        self.answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        self.answer = yield from self._gen


def message_payload(answer: Answer) -> dict:
    """What is stored beside an answer's text: ``citations``, ``cases``, ``clauses`` and ``meta`` (JSON-ready)."""
    return {
        "citations": [c.as_json() for c in answer.citations],
        "cases": [dict(c) for c in answer.cases],
        "clauses": [
            {"n": c.n, "chunk_id": c.chunk_id, "doc_title": c.doc_title, "article": c.article, "path": c.path,
             "text": c.text, "level": level_name(c.level), "notice": c.notice}
            for c in answer.clauses
        ],
        "meta": {
            "mode": answer.mode, "model": answer.model, "query": answer.query, "notice": answer.notice,
            "ttft_s": None if answer.ttft_s is None else round(answer.ttft_s, 3), "total_s": round(answer.total_s, 3),
            "audit_seq": answer.audit_seq,
        },
    }


def history(stored: list[StoredMessage]) -> list[Turn]:
    """The conversation so far as (question, answer) turns: each user message with the answer that follows it."""
    turns: list[Turn] = []
    question: str | None = None
    for m in stored:
        if m.role == "user":
            question = m.content
        elif question is not None:
            turns.append(Turn(question, m.content))
            question = None
    return turns


def citation_label(citation: dict, clause: dict | None) -> str:
    """``[n] 《doc》第X条``, ``✗`` appended when the citation failed verification, and the document's status warning."""
    if clause is not None:
        label = f"[{citation['n']}] 《{clause['doc_title']}》{clause['article'] or ''}"
    elif citation.get("doc_title"):
        label = f"[{citation['n']}] 《{citation['doc_title']}》{citation.get('article') or ''}"
    else:
        label = f"[{citation['n']}] （无此条款）"
    label = label if citation.get("verified") else f"{label} ✗ 未通过核验"
    notice = citation.get("notice") or (clause or {}).get("notice")
    return f"{label}（⚠ {notice}）" if notice else label


def meta_caption(meta: dict) -> str:
    """模式 / 模型 / 用时 of an answer, on one line."""
    parts = [f"模式：大模型（{meta.get('model') or '未知模型'}）" if meta.get("mode") == LLM else "模式：仅检索"]
    if meta.get("ttft_s") is not None:
        parts.append(f"首字 {meta['ttft_s']:.2f} 秒")
    if meta.get("total_s") is not None:
        parts.append(f"总计 {meta['total_s']:.2f} 秒")
    return " · ".join(parts)


def conversation_label(conversation: dict) -> str:
    """A conversation's entry in the list (Markdown): its title (or 未命名对话) and, greyed, when it last changed in
    Beijing time, so conversations with the same title can be told apart."""
    title = plain(conversation["title"]) or "（未命名对话）"
    return f"{title} :gray[{plain(beijing_time(conversation['updated_at'], '%m-%d %H:%M'))}]"
