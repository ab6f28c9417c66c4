"""A conversation, or one answer with its clauses, as a document to keep: Markdown text or Word (.docx) bytes.

Every export reads the conversation through :func:`assistant.qa.history.messages` with the reader's clearance, so
it holds exactly what the chat shows that reader now: an answer that rests on a clause or case above it is
withheld whole (its question stays). Untrusted text (answers, clause and case text, titles) is escaped in
Markdown, so that no link, image or HTML in it becomes active in a Markdown viewer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timezone

import duckdb

from assistant.qa.answer import LLM
from assistant.qa.history import StoredMessage, conversation, messages
from comply.files.office import docx_bytes, word_document
from comply.levels import level_name
from comply.text import beijing_time, normalise_text

UNTITLED = "（未命名对话）"
_MD_ACTIVE = re.compile(r"([\\`*_\[\]<>#|~$])")  # what makes Markdown act: emphasis, links, images, HTML, headings, tables, math
_FILE_UNSAFE = re.compile(r'[\\/:*?"<>|\s\x00-\x1f]+')
FILE_STEM_CHARS = 40

Exchange = tuple[StoredMessage | None, StoredMessage | None]  # (question, answer); either may be missing


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


def exchanges(stored: list[StoredMessage]) -> list[Exchange]:
    """The messages as (question, answer) pairs in order: an answer belongs to the user message just before it."""
    pairs: list[Exchange] = []
    for m in stored:
        if m.role == "user":
            pairs.append((m, None))
        elif pairs and pairs[-1][1] is None:
            pairs[-1] = (pairs[-1][0], m)
        else:
            pairs.append((None, m))
    return pairs


def file_name(title: str, suffix: str, when: datetime | None = None) -> str:
    """A download name: the title (characters a file system refuses made ``_``, at most 40) and the Beijing date."""
    stem = _FILE_UNSAFE.sub("_", title).strip("_.")[:FILE_STEM_CHARS] or "对话"
    return f"{stem}-{beijing_time(_moment(when), '%Y%m%d-%H%M')}.{suffix}"


def conversation_markdown(
    con: duckdb.DuckDBPyConnection, conversation_id: str, username: str, *, clearance: int, when: datetime | None = None
) -> str:
    """The whole conversation as Markdown, as a reader of ``clearance`` may see it.

    Raises:
        PermissionError: the conversation does not exist or is not the user's.
    """
    title = conversation(con, conversation_id, username)["title"] or UNTITLED
    stored = messages(con, conversation_id, username, clearance=clearance)
    lines = [f"# {_md(title)}", "", *_header_lines(username, clearance, when, len(exchanges(stored)))]
    for n, pair in enumerate(exchanges(stored), start=1):
        lines += ["", f"## 第 {n} 问", "", *_exchange_markdown(*pair)]
    return "\n".join(lines).rstrip() + "\n"


def answer_markdown(
    con: duckdb.DuckDBPyConnection, conversation_id: str, username: str, message_id: int, *, clearance: int,
    when: datetime | None = None,
) -> str:
    """One answer with the question it answers, its cited clauses (text included) and cases, as Markdown.

    Raises:
        PermissionError: the conversation does not exist or is not the user's.
        LookupError: the message is not an answer in this conversation.
    """
    stored = messages(con, conversation_id, username, clearance=clearance)
    pair = next((p for p in exchanges(stored) if p[1] is not None and p[1].id == message_id), None)
    if pair is None:
        raise LookupError("该对话中没有这条回答")
    lines = ["# 合规问答", "", *_header_lines(username, clearance, when, None), "", *_exchange_markdown(*pair)]
    return "\n".join(lines).rstrip() + "\n"


def conversation_docx(
    con: duckdb.DuckDBPyConnection, conversation_id: str, username: str, *, clearance: int, when: datetime | None = None
) -> bytes:
    """The whole conversation as a Word document, as a reader of ``clearance`` may see it.

    Raises:
        PermissionError: the conversation does not exist or is not the user's.
    """
    title = conversation(con, conversation_id, username)["title"] or UNTITLED
    stored = messages(con, conversation_id, username, clearance=clearance)
    pairs = exchanges(stored)
    doc = word_document()
    doc.add_heading(_docx(title), level=1)
    for line in _header_lines(username, clearance, when, len(pairs)):
        doc.add_paragraph(line)
    for n, (question, answer) in enumerate(pairs, start=1):
        doc.add_heading(f"第 {n} 问", level=2)
        if question is not None:
            para = doc.add_paragraph()
            para.add_run("问：").bold = True
            para.add_run(_docx(question.content))
        if answer is None:
            doc.add_paragraph("（此问题没有回答）")
            continue
        para = doc.add_paragraph()
        para.add_run("答：").bold = True
        para.add_run(_docx(answer.content))
        if answer.meta.get("notice"):
            doc.add_paragraph(_docx(f"⚠ {answer.meta['notice']}"))
        for line in _checks(answer):
            doc.add_paragraph(_docx(line))
        for citation, clause in _cited(answer):
            doc.add_paragraph(_docx(citation_label(citation, clause)), style="List Bullet")
            if clause is not None:
                doc.add_paragraph(_docx(f"{clause['path']} · 密级：{clause['level']}")).runs[0].italic = True
                doc.add_paragraph(_docx(clause["text"]), style="Quote")
        if answer.cases:
            doc.add_paragraph("相关处罚案例").runs[0].bold = True
            for case in answer.cases:
                doc.add_paragraph(_docx(f"{case['title']}（{case['case_id']}）"), style="List Bullet")
        if not answer.meta.get("withheld"):
            doc.add_paragraph(_docx(meta_caption(answer.meta))).runs[0].italic = True
    return docx_bytes(doc)


def _moment(when: datetime | None) -> datetime:
    return when or datetime.now(timezone.utc)


def _header_lines(username: str, clearance: int, when: datetime | None, count: int | None) -> list[str]:
    lines = [
        f"- 导出人：{_md(username)}",
        f"- 导出时间：{beijing_time(_moment(when))}（北京时间）",
        f"- 可见范围：{level_name(clearance)}及以下（依据更高密级条款或案例的回答已隐去）",
    ]
    return lines + ([f"- 问答数：{count}"] if count is not None else [])


def _checks(answer: StoredMessage) -> list[str]:
    """The support check's outcome as plain lines: the conclusion's check, each unverified sentence with its reason,
    and the model's own text when the answer shown is 未找到依据."""
    meta = answer.meta
    lines = []
    conclusion = meta.get("conclusion")
    if conclusion and not meta.get("draft"):
        lines.append("结论核验：与所引条款一致" if conclusion.get("supported") else f"结论未通过核验：{conclusion.get('reason', '')}")
    lines += [f"未通过核验：{c['text'].strip()}（{c.get('reason', '')}）" for c in meta.get("claims") or [] if c.get("supported") is False]
    if meta.get("draft"):
        lines.append(f"大模型原回答（未通过核验，仅供核对）：{meta['draft']}")
    return lines


def _cited(answer: StoredMessage) -> Iterator[tuple[dict, dict | None]]:
    """Each citation of the answer with the clause it names (None for a number no clause has)."""
    clauses = {c.get("n"): c for c in answer.clauses}
    for citation in answer.citations:
        yield citation, clauses.get(citation["n"]) if citation.get("chunk_id") else None


def _exchange_markdown(question: StoredMessage | None, answer: StoredMessage | None) -> list[str]:
    lines: list[str] = []
    if question is not None:
        lines += [f"**问：** {_md(question.content)}", ""]
    if answer is None:
        return lines + ["（此问题没有回答）"]
    lines += [f"**答：** {_md(answer.content)}"]
    if answer.meta.get("notice"):
        lines += ["", f"> ⚠ {_md(answer.meta['notice'])}"]
    lines += [item for line in _checks(answer) for item in ("", f"- {_md(line)}")]
    cited = list(_cited(answer))
    if cited:
        lines += ["", "**引用条款**", ""]
        for citation, clause in cited:
            lines.append(f"- {_md(citation_label(citation, clause))}")
            if clause is not None:
                lines += ["", f"  > {_md(clause['path'])} · 密级：{_md(clause['level'])}", "  >"]
                lines += [f"  > {_md(line)}" for line in clause["text"].splitlines() if line.strip()]
                lines.append("")
    if answer.cases:
        lines += ["", "**相关处罚案例**", ""]
        lines += [f"- {_md(case['title'])}（{_md(case['case_id'])}）" for case in answer.cases]
    if not answer.meta.get("withheld"):
        lines += ["", f"*{_md(meta_caption(answer.meta))}*"]
    return lines


def _md(text: object) -> str:
    """Untrusted text as Markdown that shows it literally (active characters escaped), line breaks kept."""
    escaped = _MD_ACTIVE.sub(r"\\\1", str(text).replace("\r\n", "\n"))
    return escaped.replace("\n", "  \n")


def _docx(text: object) -> str:
    """Text Word can hold: no control characters (python-docx refuses them)."""
    return normalise_text(str(text))
