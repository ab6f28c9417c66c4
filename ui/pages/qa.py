"""合规问答: multi-turn chat with streamed, verified answers; history, citations and feedback kept on the server."""

import streamlit as st

from assistant.accounts import User
from assistant.qa.answer import QuestionTooLong, check_question, stream_answer
from assistant.qa.history import StoredMessage, add_feedback, add_message, conversations, messages, new_conversation
from retrieval.store import live_version
from ui import nav, state
from ui.chat import AnswerStream, citation_label, conversation_label, history, message_payload, meta_caption
from ui.safe_text import plain

CONVERSATION = "qa_conversation"

user = nav.require("qa")
cur = state.cursor()


def rate(message_id: int, user: User) -> None:
    """Store a 👍/👎 as soon as it is clicked (a later correction replaces it); runs before the next run's script."""
    value = st.session_state.get(f"fb_{message_id}")
    if value is not None:
        add_feedback(state.cursor(), message_id, user.username, 1 if value == 1 else -1)


def show_clause(key: str, citation: dict, clause: dict | None) -> None:
    """One citation as an expander holding its clause (path, level, text)."""
    with st.expander(plain(citation_label(citation, clause)), key=key):
        if clause is None:
            st.caption("回答引用了不存在的条款编号，已从回答中移除")
            return
        st.caption(f"{plain(clause['path'])} · 密级：{clause['level']}")
        st.markdown(plain(clause["text"]))
        if not citation.get("verified"):
            st.caption("✗ 该处引用未通过核验（引文与条款原文不符或条号不一致），已从回答中移除")


def show_answer(m: StoredMessage, user: User) -> None:
    """A stored answer: text, notice, citations, cases, mode caption and feedback."""
    st.markdown(plain(m.content))
    if m.meta.get("notice"):
        st.warning(plain(m.meta["notice"]))
    clauses = {c["n"]: c for c in m.clauses}
    for citation in m.citations:
        show_clause(f"cite_{m.id}_{citation['n']}", citation, clauses.get(citation["n"]) if citation.get("chunk_id") else None)
    if m.cases:
        st.markdown("**相关处罚案例**  \n" + "  \n".join(f"- {plain(c['title'])}（{plain(c['case_id'])}）" for c in m.cases))
    st.caption(plain(meta_caption(m.meta)))
    st.feedback("thumbs", key=f"fb_{m.id}", on_change=rate, args=(m.id, user))
    if st.session_state.get(f"fb_{m.id}") == 0:
        correction = st.text_input("更正意见（可选）", key=f"fb_fix_{m.id}", placeholder="请写下正确的结论或依据")
        if st.button("提交更正", key=f"fb_send_{m.id}"):
            add_feedback(cur, m.id, user.username, -1, correction)
            st.toast("已记录您的更正，谢谢")


with st.sidebar:
    st.subheader("对话")
    if st.button("新建对话", key="qa_new", icon=":material/add:", width="stretch"):
        st.session_state[CONVERSATION] = None
    current = st.session_state.get(CONVERSATION)
    for conv in conversations(cur, user.username)[:50]:
        if st.button(conversation_label(conv), key=f"qa_conv_{conv['id']}", width="stretch",
                     type="primary" if conv["id"] == current else "tertiary"):
            st.session_state[CONVERSATION] = current = conv["id"]

st.title("合规问答")
st.caption(f"回答仅依据您有权查看（{user.clearance_name}及以下）的条款；每处 [n] 引用都经过核验，点开可看条款原文。")
stored = messages(cur, current, user.username, clearance=user.clearance) if current else []
for m in stored:
    with st.chat_message(m.role), st.container(key=f"msg_{m.id}"):
        if m.role == "user":
            st.markdown(plain(m.content))
        else:
            show_answer(m, user)

ready = live_version(cur, state.settings().index_root) is not None
if not ready:
    st.error("知识库尚未建立索引，请管理员先导入法规（comply ingest 或「知识库」页面）")
question = st.chat_input("请输入合规问题，例如：证券公司能否向客户承诺保本保收益？", key="qa_input", disabled=not ready)
if question and question.strip():
    try:
        check_question(state.settings(), question)
    except QuestionTooLong as exc:
        st.error(plain(exc))
        st.stop()
    if current is None:
        current = st.session_state[CONVERSATION] = new_conversation(cur, user.username)
    add_message(cur, current, user.username, "user", question)
    with st.chat_message("user"):
        st.markdown(plain(question))
    llm = state.backend()
    with st.chat_message("assistant"):
        stream = AnswerStream(stream_answer(
            state.settings(), cur, question, client=llm.client, no_llm_reason=llm.reason,
            clearance=user.clearance, user=user.username, history=history(stored),
        ))
        st.write_stream(plain(piece) for piece in stream)
    answer = stream.answer
    add_message(cur, current, user.username, "assistant", answer.answer, **message_payload(answer))
    st.rerun()
