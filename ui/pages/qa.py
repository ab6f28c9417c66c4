"""合规问答: multi-turn chat with streamed, verified answers; history, citations and feedback kept on the server.

Answers are produced by ``ui.chat_job`` on threads of their own: the page only follows them, so a rerun (a
second question, a click) never discards an answer, and a question sent while one is answered waits its turn.
Conversations can be renamed, exported (Markdown, Word) and deleted from the sidebar.
"""

import time
from collections.abc import Callable

import duckdb
import streamlit as st

from assistant.accounts import User
from assistant.qa.answer import STAGES, QuestionTooLong, check_question
from assistant.qa.history import (
    TITLE_CHARS,
    StoredMessage,
    add_feedback,
    conversations,
    delete_conversation,
    messages,
    new_conversation,
    rename_conversation,
)
from assistant.qa.transcript import answer_markdown, conversation_docx, conversation_markdown, file_name
from retrieval.store import live_version
from ui import chat_job, nav, state
from ui.answer_view import render_answer
from ui.chat import conversation_label, export_now
from ui.safe_text import plain

CONVERSATION = "qa_conversation"
CONFIRM_DELETE = "qa_confirm_delete"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
BUSY = "上一个问题仍在回答中，另有问题正在排队，本问题未发送，请稍候再提问。未发送的问题："
POLL_S = 0.5  # how often a waiting page refreshes its stage line (and notices a newer run)

user = nav.require("qa")
cur = state.cursor()
con = state.connection(str(state.settings().db_path))


def rate(message_id: int, user: User) -> None:
    """Store a 👍/👎 as soon as it is clicked (a later correction replaces it); runs before the next run's script."""
    value = st.session_state.get(f"fb_{message_id}")
    if value is not None:
        add_feedback(state.cursor(), message_id, user.username, 1 if value == 1 else -1)


def deferred(build: Callable[[duckdb.DuckDBPyConnection, int], str | bytes]) -> Callable[[], str | bytes]:
    """A download built only when clicked (Streamlit runs it on a thread of its own: it gets a cursor of its own), at
    the account's clearance at that moment (:func:`ui.chat.export_now`)."""
    def run() -> str | bytes:
        own = con.cursor()
        try:
            return export_now(own, user.username, build)
        finally:
            own.close()
    return run


def show_answer(m: StoredMessage, user: User, conversation_id: str) -> None:
    """A stored answer with its feedback controls and its export."""
    render_answer(m)
    row = st.container(horizontal=True, vertical_alignment="center")
    with row:
        st.feedback("thumbs", key=f"fb_{m.id}", on_change=rate, args=(m.id, user))
    if not m.meta.get("withheld"):
        row.download_button(
            "导出本回答及条款（Markdown）", key=f"qa_dl_{m.id}", icon=":material/download:", type="tertiary",
            data=deferred(lambda c, level: answer_markdown(c, conversation_id, user.username, m.id, clearance=level)),
            file_name=file_name(f"问答-{m.id}", "md"), mime="text/markdown", on_click="ignore",
        )
    if st.session_state.get(f"fb_{m.id}") == 0:
        correction = st.text_input("更正意见（可选）", key=f"fb_fix_{m.id}", placeholder="请写下正确的结论或依据")
        if st.button("提交更正", key=f"fb_send_{m.id}"):
            add_feedback(cur, m.id, user.username, -1, correction)
            st.toast("已记录您的更正，谢谢")


def manage(conv: dict, busy: bool) -> None:
    """Rename, export and delete (after confirmation) the current conversation."""
    cid, title = conv["id"], conv["title"]
    with st.expander("管理当前对话", icon=":material/settings:"):
        new_title = st.text_input("对话标题", value=title, max_chars=TITLE_CHARS, key=f"qa_title_{cid}_{title}")
        if st.button("重命名", key="qa_rename", icon=":material/edit:"):
            try:
                rename_conversation(cur, cid, user.username, new_title)
            except (ValueError, PermissionError) as exc:  # PermissionError: deleted meanwhile in another tab
                st.error(plain(exc))
            else:
                state.flash("对话已重命名")
                st.rerun()
        name = title or "对话"
        st.download_button("导出 Markdown", key="qa_export_md", icon=":material/download:", width="stretch",
                           data=deferred(lambda c, level: conversation_markdown(c, cid, user.username, clearance=level)),
                           file_name=file_name(name, "md"), mime="text/markdown", on_click="ignore")
        st.download_button("导出 Word", key="qa_export_docx", icon=":material/download:", width="stretch",
                           data=deferred(lambda c, level: conversation_docx(c, cid, user.username, clearance=level)),
                           file_name=file_name(name, "docx"), mime=DOCX_MIME, on_click="ignore")
        st.caption("导出内容按您当前的密级过滤。")
        if st.button("删除对话", key="qa_delete", icon=":material/delete:", disabled=busy,
                     help="回答进行中，完成后才能删除" if busy else None):
            st.session_state[CONFIRM_DELETE] = cid
        if st.session_state.get(CONFIRM_DELETE) == cid and not busy:
            st.warning(f"确定删除对话「{plain(title or '未命名对话')}」？对话内容删除后无法恢复；审计日志中的问答记录会保留。")
            yes, no = st.columns(2)
            if yes.button("确认删除", key="qa_delete_yes", type="primary"):
                try:
                    delete_conversation(cur, cid, user.username)
                except PermissionError:
                    pass  # deleted meanwhile in another tab: the outcome the user asked for
                st.session_state.pop(CONFIRM_DELETE, None)
                st.session_state[CONVERSATION] = None
                state.flash("对话已删除；审计日志中的问答记录已保留")
                st.rerun()
            if no.button("取消", key="qa_delete_no"):
                st.session_state.pop(CONFIRM_DELETE, None)
                st.rerun()


def stage_line(turn: chat_job.Turn, behind: bool = False) -> str:
    """What the answer is doing now, with the time it has taken so far (``behind``: it waits for an earlier one)."""
    if behind:
        return ":material/schedule: 排队中：上一个回答完成后自动开始"
    label = STAGES.get(turn.stage or "", "准备中…")
    waited = int(time.monotonic() - turn.started) if turn.started is not None else 0
    return f":material/hourglass_top: {label}（已用时 {waited} 秒）"


def follow(job: chat_job.ChatJob, turn_id: int, text_box, stage_box) -> None:
    """Show the turn's text and stage as they change until it ends, then rerun to show it as stored.

    Each refresh is a Streamlit call, so a newer run (the user sent another question) stops this one there;
    the answer itself goes on, on its own thread."""
    seen, shown = -1, None
    while (turn := job.turn(turn_id)) is not None and turn.state in (chat_job.QUEUED, chat_job.RUNNING):
        if turn.text != shown:
            text_box.markdown(plain(turn.text))
            shown = turn.text
        stage_box.caption(stage_line(turn))
        seen = job.wait(seen, POLL_S)
    st.rerun()


current = st.session_state.get(CONVERSATION)
if current is not None and all(c["id"] != current for c in conversations(cur, user.username)):  # deleted elsewhere
    current = st.session_state[CONVERSATION] = None
ready = live_version(cur, state.settings().index_root) is not None
question = st.chat_input("请输入合规问题，例如：证券公司能否向客户承诺保本保收益？", key="qa_input", disabled=not ready)
refused: tuple[str, str] | None = None  # (why, the question that was not sent)
if question and question.strip():
    try:
        check_question(state.settings(), question)
    except QuestionTooLong as exc:
        refused = (str(exc), question)
    else:
        if current is None:
            current = st.session_state[CONVERSATION] = new_conversation(cur, user.username)
        llm = state.backend()
        if chat_job.submit(con, state.settings(), current, user.username, question,
                           client=llm.client, no_llm_reason=llm.reason) is None:
            refused = (BUSY, question)

stored = messages(cur, current, user.username, clearance=user.clearance) if current else []
job = chat_job.pending(current, user.username) if current else None  # read after the messages: see ChatJob._answer
turns = job.snapshot() if job else []

with st.sidebar:
    st.subheader("对话")
    if st.button("新建对话", key="qa_new", icon=":material/add:", width="stretch"):
        st.session_state[CONVERSATION] = None
        st.rerun()
    listed = conversations(cur, user.username)
    for conv in listed[:50]:
        if st.button(conversation_label(conv), key=f"qa_conv_{conv['id']}", width="stretch",
                     type="primary" if conv["id"] == current else "tertiary"):
            st.session_state[CONVERSATION] = conv["id"]
            st.rerun()
    conv = next((c for c in listed if c["id"] == current), None)
    if conv is not None:
        manage(conv, busy=job is not None and job.busy())

st.title("合规问答")
st.caption(f"回答仅依据您有权查看（{user.clearance_name}及以下）的条款；每处 [n] 引用都经过核验，点开可看条款原文。")
state.show_flash()
if not ready:
    st.error("知识库尚未建立索引，请管理员先导入法规（comply ingest 或「知识库」页面）")

in_flight = {t.question_id for t in turns if t.state != chat_job.FAILED}
for i, m in enumerate(stored):
    with st.chat_message(m.role), st.container(key=f"msg_{m.id}"):
        if m.role == "assistant":
            show_answer(m, user, current)
            continue
        st.markdown(plain(m.content))
        unanswered = i + 1 == len(stored) or stored[i + 1].role == "user"
        if unanswered and m.id not in in_flight:
            st.caption("此问题未得到回答，请重新提问")

stored_ids = {m.id for m in stored}
live: tuple | None = None
for t in turns:
    if t.state == chat_job.FAILED or (t.state == chat_job.DONE and t.answer_id in stored_ids):
        continue
    if t.question_id not in stored_ids:
        with st.chat_message("user"):
            st.markdown(plain(t.question))
    with st.chat_message("assistant"):
        text_box, stage_box = st.empty(), st.empty()
        if t.text:
            text_box.markdown(plain(t.text))
        if t.state != chat_job.DONE:
            stage_box.caption(stage_line(t, behind=live is not None))
        live = live or (t.id, text_box, stage_box)  # a turn stored since the messages were read: follow() reruns at once

for failed in chat_job.take_failures(current, user.username) if current else []:
    st.error(plain(f"问题「{failed.question}」未能回答：{failed.error}"))
    if failed.text:  # streamed before the failure (e.g. storing it failed): shown once, never silently dropped
        with st.expander("失败前已生成的内容（未保存、未核验）"):
            st.markdown(plain(failed.text))
if refused is not None:
    st.warning(plain(refused[0]))
    st.code(refused[1], language=None, wrap_lines=True)
if live is not None and job is not None:
    follow(job, *live)
