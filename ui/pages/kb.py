"""知识库 (admin): upload with a security level, the hold queue, documents (level, delete, re-index), 审核要点 export."""

import tempfile
from pathlib import Path

import streamlit as st

from comply.levels import LEVELS, level_name, level_rank
from comply.text import beijing_time
from kb_ingest import admin, listing
from kb_ingest.ingest import ingest
from review.audit_points import extract_audit_points
from review.audit_points_export import to_csv, to_docx, to_markdown
from ui import nav, state, widget_text
from ui.display import table_rows
from ui.kb import ingest_rows, save_uploads
from ui.safe_text import plain

POINTS = "kb_points"  # (doc_id, title, points) last extracted in this session
INGESTED = "kb_ingested"  # (summary, failed, rows) of the last upload, shown after the rerun that follows it
LEVEL_OPTIONS = list(range(len(LEVELS)))

user = nav.require("kb")
settings = state.settings()
cur = state.cursor()


def run_admin(label: str, action, *args) -> None:
    """Run one admin operation, report it (with the new index version) and rerun; AdminError is shown."""
    try:
        with st.spinner(f"{label}中…"):
            version = action(*args)
    except admin.AdminError as exc:
        st.error(plain(exc))
        return
    state.flash(f"{label}完成" + (f"，索引已切换到 v{version}" if version else ""))
    st.rerun()


def upload_level_name(level: int | None) -> str:
    """The upload level choices: keep the stored level (公开 for a new file), or an explicit level."""
    return "沿用原密级（新文件为公开）" if level is None else level_name(level)


def doc_label(doc: dict) -> str:
    return f"{doc['doc_key']}（v{doc['version']}，{doc['state_name']}，{doc['level']}）"


st.title("知识库")
state.show_flash()
upload_tab, hold_tab, docs_tab, points_tab = st.tabs(["导入文件", "待审队列", "文档管理", "审核要点"])

with upload_tab:
    uploads = st.file_uploader("上传法规、制度文件（PDF / DOCX / MD / TXT）或案例（JSONL）", accept_multiple_files=True,
                               type=["pdf", "docx", "md", "txt", "jsonl"], key="kb_upload")
    level = st.selectbox("密级", [None, *LEVEL_OPTIONS], format_func=upload_level_name, key="kb_level",
                         help="已有文档重新导入时沿用其原密级；降低密级须在「文档管理」中单独修改并留痕")
    if st.button("导入知识库", key="kb_ingest", type="primary", disabled=not uploads):
        with st.status(f"正在导入 {len(uploads)} 个文件…", expanded=True) as status:
            st.write("解析结构、筛查敏感词、计算向量并构建新版本索引；完成后一次性切换上线。")
            with tempfile.TemporaryDirectory(prefix="kb-upload-") as folder:
                report = ingest(settings, cur, save_uploads(Path(folder), uploads), level=level, actor=user.username,
                                clearance=user.clearance)
            failed = len(report.errors)
            summary = (f"导入完成：{len(report.files) - failed} 个成功，{failed} 个失败"
                       + (f"，索引已切换到 v{report.index_version}" if report.index_version else "，索引无变化"))
            status.update(label=summary, state="error" if failed else "complete")
        st.session_state[INGESTED] = (summary, failed, ingest_rows(report))
        st.rerun()  # the sidebar, drawn before the upload, then shows the new index version
    if st.session_state.get(INGESTED):
        summary, failed, rows = st.session_state[INGESTED]
        (st.error if failed else st.success)(summary)
        st.dataframe(table_rows(rows), hide_index=True, key="kb_ingest_result")

with hold_tab:
    held = listing.documents(cur, ["held"], clearance=user.clearance)
    if not held:
        st.info("没有待审文档")
    else:
        st.dataframe(table_rows([{"文档": d["doc_key"], "版本": d["version"], "密级": d["level"], "分段数": d["n_chunks"],
                                  "命中敏感词": "、".join(dict.fromkeys(f["match"] for f in d["flags"]))} for d in held]),
                     hide_index=True, key="kb_held_table")
        by_id = {d["doc_id"]: d for d in held}
        doc_id = st.selectbox("待审文档", list(by_id), format_func=lambda i: doc_label(by_id[i]), key="kb_hold_doc")
        reason = st.text_input("驳回原因（可选）", key="kb_reject_reason")
        approve_col, reject_col = st.columns(2)
        if approve_col.button("批准上线", key="kb_approve", type="primary"):
            run_admin("批准上线", admin.approve, settings, cur, doc_id, user.username)
        if reject_col.button("驳回", key="kb_reject"):
            run_admin("驳回", admin.reject, cur, doc_id, user.username, reason)

with docs_tab:
    shown = st.multiselect("状态", list(listing.DOC_STATES), default=["live", "held"], format_func=listing.DOC_STATES.get, placeholder=widget_text.CHOOSE,
                           key="kb_states")
    docs = listing.documents(cur, shown, clearance=user.clearance)
    st.dataframe(table_rows([{"文档": d["doc_key"], "版本": d["version"], "状态": d["state_name"], "密级": d["level"],
                              "分段数": d["n_chunks"], "导入时间": beijing_time(d["ingested_at"]) if d["ingested_at"] else None, "文档编号": d["doc_id"]} for d in docs]),
                 hide_index=True, key="kb_docs_table")
    editable = {d["doc_id"]: d for d in listing.documents(cur, ["live", "held"], clearance=user.clearance)}
    doc_id = st.selectbox("选择文档", list(editable), index=None, format_func=lambda i: doc_label(editable[i]),
                          key="kb_doc", placeholder="选择要修改密级或删除的文档")
    if doc_id:
        level_col, delete_col = st.columns(2)
        with level_col:
            new_level = st.selectbox("新密级", LEVEL_OPTIONS, format_func=level_name, key="kb_new_level")
            lowering = new_level < level_rank(editable[doc_id]["level"])
            confirmed_lower = lowering and st.checkbox(
                f"确认将密级从{editable[doc_id]['level']}降为{level_name(new_level)}（更多用户将能看到该文档，操作记入审计日志）",
                key="kb_lower_confirm")
            if st.button("修改密级", key="kb_set_level", disabled=lowering and not confirmed_lower):
                run_admin("修改密级", admin.set_level, settings, cur, doc_id, new_level, user.username)
        with delete_col:
            confirmed = st.checkbox("确认删除该文档（从知识库下线）", key="kb_delete_confirm")
            if st.button("删除文档", key="kb_delete", disabled=not confirmed):
                run_admin("删除文档", admin.delete, settings, cur, doc_id, user.username)
    st.divider()
    if st.button("重建索引", key="kb_reindex", help="按数据库现状重建检索索引（修改检索配置后或修复时使用）"):
        run_admin("重建索引", admin.reindex, settings, cur, user.username)

with points_tab:
    regulations = dict(listing.live_documents(cur, user.clearance))
    points_doc = st.selectbox("法规", list(regulations), index=None, format_func=regulations.get, key="kb_points_doc",
                          placeholder="选择一部法规或制度")
    if points_doc and st.button("生成审核要点", key="kb_points_run", type="primary"):
        st.session_state[POINTS] = (points_doc, regulations[points_doc], extract_audit_points(cur, points_doc, user.clearance))
    if points_doc and st.session_state.get(POINTS, (None,))[0] == points_doc:
        _, title, points = st.session_state[POINTS]
        heading = f"《{title}》"
        st.caption(f"共 {len(points)} 条审核要点")
        st.dataframe(table_rows([{"序号": p.n, "类型": p.kind_label, "主体": p.subject, "审核要点": p.requirement,
                                  "依据条款": p.reference} for p in points]), hide_index=True, key="kb_points_table")
        md, csv, docx = st.columns(3)
        md.download_button("下载 Markdown", to_markdown(points, heading), f"{title}-审核要点.md", "text/markdown",
                           key="kb_points_md", on_click="ignore")
        csv.download_button("下载 CSV", to_csv(points).encode("utf-8"), f"{title}-审核要点.csv", "text/csv",
                            key="kb_points_csv", on_click="ignore")
        docx.download_button("下载 Word", lambda: to_docx(points, heading), f"{title}-审核要点.docx",
                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                             key="kb_points_docx", on_click="ignore")
