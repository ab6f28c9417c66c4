"""A stored answer as the chat shows it: its text with every sentence's check, its conclusion's check, the clauses
it cites, the top clauses it does not use (其他相关条款), related cases and how it was made.

A sentence whose citation failed is highlighted and never carries ✓; its reason and the clause it cited are shown
beside it. When the answer is 未找到依据 but the model had written something, that text is kept below, marked.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from assistant.qa.history import StoredMessage
from assistant.qa.transcript import citation_label, meta_caption
from ui.safe_text import plain


def show_clause(key: str, citation: dict, clause: dict | None) -> None:
    """One citation as an expander holding its clause (path, level, text)."""
    with st.expander(plain(citation_label(citation, clause)), key=key):
        if clause is None:
            st.caption("回答引用了不存在的条款编号，已从回答中移除")
            return
        st.caption(f"{plain(clause['path'])} · 密级：{clause['level']}")
        st.markdown(plain(clause["text"]))
        if not citation.get("verified"):
            st.caption("✗ 该处引用未通过核验，回答中的对应编号已移除")


def _marked(claims: Iterable[dict]) -> str:
    """The sentences as Markdown, one paragraph per line of the answer; a failed sentence highlighted with ⚠."""
    out = []
    for claim in claims:
        text = plain(claim["text"].rstrip("\n"))
        if text:
            out.append(f":orange-background[{text}] ⚠未核验" if claim.get("supported") is False else text)
        if claim["text"].endswith("\n"):
            out.append("  \n")
    return "".join(out)


def _failed(m: StoredMessage, claims: list[dict], clauses: dict[int, dict]) -> None:
    """Each failed sentence beside the clause it cited, with the reason."""
    for i, claim in enumerate(c for c in claims if c.get("supported") is False):
        with st.expander(f"⚠ 未通过核验：{plain(claim['text'][:40])}", key=f"unverified_{m.id}_{i}"):
            st.caption(plain(claim.get("reason") or "所引条款不支持该句"))
            left, right = st.columns(2)
            left.markdown("**回答中的句子**  \n" + plain(claim["text"]))
            cited = [clauses[n] for n in claim.get("cited", []) if n in clauses]
            right.markdown("**所引条款原文**  \n" + ("  \n".join(f"[{c['n']}] {plain(c['path'])}：{plain(c['text'])}" for c in cited)
                                                  or "（回答引用的编号不在检索到的条款中）"))


def _conclusion(meta: dict) -> None:
    conclusion = meta.get("conclusion")
    if not conclusion:
        return
    if conclusion.get("supported"):
        st.caption(f"结论核验：与所引条款一致（{plain(conclusion['text'])}）")
    else:
        st.error(f"结论未通过核验：{plain(conclusion.get('reason') or '')}")


def render_answer(m: StoredMessage) -> None:
    """The answer's text (sentences marked), notice, conclusion check, citations, 其他相关条款, cases and caption."""
    meta, clauses = m.meta, {c["n"]: c for c in m.clauses}
    claims = meta.get("claims") or []
    draft = meta.get("draft")
    st.markdown(plain(m.content) if draft or not claims else _marked(claims))
    if meta.get("notice"):
        st.warning(plain(meta["notice"]))
    if draft:
        with st.expander("大模型原回答（未通过核验，仅供核对）", key=f"draft_{m.id}"):
            st.markdown(_marked(claims) if claims else plain(draft))
    elif claims:
        _conclusion(meta)
    _failed(m, claims, clauses)
    for citation in m.citations:
        show_clause(f"cite_{m.id}_{citation['n']}", citation, clauses.get(citation["n"]) if citation.get("chunk_id") else None)
    others = [clauses[n] for n in meta.get("others", []) if n in clauses]
    if others:
        st.markdown("**其他相关条款**（检索排名靠前、回答未引用）")
        for c in others:
            with st.expander(plain(f"[{c['n']}] 《{c['doc_title']}》{c['article'] or ''}"), key=f"other_{m.id}_{c['n']}"):
                st.caption(f"{plain(c['path'])} · 密级：{c['level']}")
                st.markdown(plain(c["text"]))
    if m.cases:
        st.markdown("**相关处罚案例**  \n" + "  \n".join(f"- {plain(c['title'])}（{plain(c['case_id'])}）" for c in m.cases))
    st.caption(plain(meta_caption(m.meta)))
