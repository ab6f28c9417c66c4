"""批量审核 (every role that reviews): upload many drafts (JSONL, XLSX, ZIP or several TXT/DOCX/PDF files) as one job
that the service's workers review in the background; watch its progress, read its results, export them to Excel.

Jobs run in the service (``comply serve --with-app``, what ``make run`` starts); the app run alone says so. A user
sees their own jobs, at or below their clearance."""

import streamlit as st

from comply.text import beijing_time
from service.job_export import EXPORT_COLUMNS, export_xlsx, result_rows
from service.job_inputs import TooManyDrafts, upload_drafts
from service.jobs import Job, get_job, list_jobs, submit_job
from service.resources import shared
from ui import nav, state
from ui.display import table_rows
from ui.safe_text import plain

JOB_STATES = {"queued": "排队中", "running": "审核中", "done": "已完成"}
TYPES = ["jsonl", "xlsx", "zip", "txt", "docx", "pdf"]

user = nav.require("batch")
st.title("批量审核")
service = shared()
if service is None or service.jobs is None:
    st.info("批量审核由服务在后台执行：请用 make run（即 comply serve --with-app）启动应用；"
            "其他系统可调用接口 POST /v1/jobs/review 提交。")
    st.stop()
settings = state.settings()
cur = state.cursor()

with st.form("batch_submit", clear_on_submit=True):
    uploads = st.file_uploader("上传文案（JSONL 每行 {\"id\", \"text\"}；XLSX 含 id / text 列；ZIP 内为 TXT / DOCX / PDF；"
                               "或多个 TXT / DOCX / PDF 文件）", type=TYPES, accept_multiple_files=True)
    rules_only = st.checkbox("只用规则和学习模型（不调用大模型，更快）", value=True)
    submitted = st.form_submit_button("提交批量审核", type="primary")
if submitted:
    if not uploads:
        st.warning("请先上传文件")
    else:
        try:
            drafts = upload_drafts([(u.name, u.getvalue()) for u in uploads], settings)
        except TooManyDrafts as exc:
            st.error(plain(str(exc)))
            drafts = []
        if drafts:
            job_id = submit_job(cur, drafts, username=user.username, clearance=user.clearance,
                                options={"genre": "auto", "no_llm": rules_only})
            service.jobs.enqueue(job_id)
            st.session_state["batch_job"] = job_id
            problems = [d.problem() for d in drafts if d.error]
            st.success(f"已提交任务 {job_id}：共 {len(drafts)} 篇" + (f"，其中 {len(problems)} 篇无法读取（见结果）" if problems else ""))
        elif uploads:
            st.warning("上传的文件中没有文案")

jobs = list_jobs(cur, username=user.username, max_clearance=user.clearance, limit=50)
if not jobs:
    st.caption("还没有批量任务。")
    st.stop()
labels = {j.job_id: f"{beijing_time(j.created_at, '%Y-%m-%d %H:%M')} · {j.total} 篇 · {JOB_STATES.get(j.state, j.state)}（{j.job_id}）"
          for j in jobs}
ids = list(labels)
chosen = st.selectbox("任务", ids, index=ids.index(st.session_state["batch_job"]) if st.session_state.get("batch_job") in labels else 0,
                      format_func=labels.get)


def show_progress(job: Job) -> None:
    """The job's progress bar and counts."""
    finished = job.done + job.failed
    st.progress(finished / job.total if job.total else 1.0,
                text=f"{JOB_STATES.get(job.state, job.state)}：已完成 {job.done} 篇，出错 {job.failed} 篇，共 {job.total} 篇")


@st.fragment(run_every=2)
def watch(job_id: str) -> None:
    """Progress refreshed every two seconds; once the job is done, the whole page reruns to show its results."""
    job = get_job(state.cursor(), job_id)
    if job is None:
        return
    show_progress(job)
    if job.state == "done":
        st.rerun()


job = get_job(cur, chosen)
if job is None or job.username != user.username or job.clearance > user.clearance:
    st.error("没有这个任务")
    st.stop()
if job.state != "done":
    watch(job.job_id)
    st.stop()
show_progress(job)
rows = [dict(zip(EXPORT_COLUMNS, row)) for row in result_rows(cur, settings, job)]
st.dataframe(table_rows(rows), hide_index=True, width="stretch")
st.download_button("导出 Excel", export_xlsx(cur, settings, job), file_name=f"{job.job_id}.xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", icon=":material/download:")
st.caption("结果中的依据条款与相似案例以提交时的密级为准。")
