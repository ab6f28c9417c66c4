"""文案审核: paste or upload a draft and pick its genre; rule findings at once, the model's after; the stages that ran,
highlighted draft, findings table, the model's hints apart (never counted), rewrite, downloads."""

from functools import partial

import streamlit as st

from comply.files.limits import ReadLimits
from review import export
from review.draft import DraftError, draft_from_text, review_text
from review.genre import AUTO
from review.inputs import read_draft
from review.pipeline import ReviewReport
from review.stages import FAILED
from ui import nav, state
from ui.highlight import highlight_html, legend_html
from ui.safe_text import plain

RESULT = "review_result"  # (source, report) of the last review in this session
UPLOAD_TYPES = ["txt", "docx", "pdf", "png", "jpg", "jpeg", "webp"]

user = nav.require("review")
settings = state.settings()
rules = state.reviewer(with_llm=False)
taxonomy = rules.taxonomy
names = {c.id: c.name_zh for c in taxonomy.categories}
genre_names = {AUTO: "自动识别", **{g.id: g.name_zh for g in rules.genres.values()}}


def show_stages(report: ReviewReport) -> None:
    """The draft's genre, and one line per stage: a stage that did not run is marked with its reason."""
    genre = export.genre_label(report)
    if genre:
        st.markdown(plain(f"体裁：{genre}"))
    for stage in report.stages:
        if stage.ran:
            st.caption(plain(stage.label()))
        elif stage.code in FAILED:
            st.warning(plain(stage.label()), icon=":material/error:")
        else:
            st.info(plain(stage.label()), icon=":material/info:")


def show_hints(report: ReviewReport) -> None:
    """The model's hints, apart from the findings: counted in no verdict, rewritten by nobody."""
    st.subheader(export.HINTS_TITLE)
    st.dataframe(export.hint_rows(report.hints, taxonomy), hide_index=True, key="review_hints",
                 column_config={"说明": st.column_config.TextColumn(width="large"),
                                "原因": st.column_config.TextColumn(width="large")})


def show(source: str, report: ReviewReport, downloads: bool) -> None:
    """The review of one draft; download buttons only in the final rendering of a run."""
    st.subheader(f"审核结果：{plain(source)}")
    st.markdown(f"**{plain(export.mode_label(report))}** · 共 {len(report.findings)} 个问题 · 用时 {report.total_s:.1f} 秒")
    show_stages(report)
    if report.notice:
        st.info(plain(report.notice))
    if report.findings:
        st.html(legend_html((f.category for f in report.findings), names))
    st.html(highlight_html(report.draft, report.findings, names))
    if report.findings:
        st.dataframe(export.finding_rows(report.findings, taxonomy), hide_index=True, key="review_findings",
                     column_config={"原因": st.column_config.TextColumn(width="large"),
                                    "改写建议": st.column_config.TextColumn(width="large")})
    else:
        st.success(f"未发现问题（另有 {len(report.hints)} 条待复核提示）" if report.hints else "未发现问题")
    if report.hints:
        show_hints(report)
    if report.dropped:
        st.caption(f"大模型给出的 {len(report.dropped)} 条结论未通过核验（片段不在原文中或引用了未提供的条款），已丢弃")
    if report.rewrite:
        st.subheader(f"改写稿（{report.rounds} 轮）")
        st.code(report.rewrite, language=None, wrap_lines=True)
        if report.rewrite_findings:
            st.warning(plain("改写稿复审仍有问题：" + "；".join(f"“{f.span}”（{names.get(f.category, f.category)}）"
                                                         for f in report.rewrite_findings)))
    if downloads:  # Word and PDF are generated when clicked
        md, docx, pdf = st.columns(3)
        md.download_button("下载报告（Markdown）", export.to_markdown(report, taxonomy, source), "审核报告.md",
                           "text/markdown", key="review_dl_md", on_click="ignore")
        docx.download_button("下载报告（Word）", partial(export.to_docx, report, taxonomy, source), "审核报告.docx",
                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                             key="review_dl_docx", on_click="ignore")
        pdf.download_button("下载报告（PDF）", partial(export.to_pdf, report, taxonomy, source), "审核报告.pdf",
                            "application/pdf", key="review_dl_pdf", on_click="ignore")


st.title("文案审核")
st.caption(f"规则审核即时给出结果，大模型的补充意见随后到达；依据条款仅取您有权查看（{user.clearance_name}及以下）的内容。")
text = st.text_area("粘贴文案", key="review_text", height=180, placeholder="把营销文案粘贴到这里")
upload = st.file_uploader("或上传文件（TXT / DOCX / PDF / PNG / JPG）", type=UPLOAD_TYPES, key="review_file",
                          help="上传文件后以文件内容为准；图片和扫描版 PDF 会先做文字识别")
genre = st.selectbox("体裁", list(genre_names), format_func=genre_names.__getitem__, key="review_genre",
                     help="自动识别按已标注的样例判断；体裁会告知大模型，非营销宣传体裁中大模型单独提出的问题只作提示")
if st.button("开始审核", key="review_run", type="primary", icon=":material/fact_check:"):
    try:
        with st.spinner("正在读取文件…" if upload else "正在读取文案…"):
            draft = (read_draft(upload.name, upload.getvalue(), settings.max_file_mb, ReadLimits.of(settings)) if upload
                     else draft_from_text(text or "", settings.max_draft_chars))
            review_text(draft.text, settings.max_draft_chars)  # an uploaded file is held to the same cap as pasted text
    except DraftError as exc:
        st.error(plain(exc.message))
        st.stop()
    llm = state.backend()
    with st.spinner("规则审核中…"):  # a preview when the model review follows; that one is audited
        report = rules.review(draft.text, clearance=user.clearance, user=user.username, audit=llm.client is None, genre=genre)
    st.session_state[RESULT] = (draft.source, report)
    if llm.client is not None:
        progress = st.container()
        show(draft.source, report, downloads=False)
        with progress.status("大模型审核中…") as status:
            st.write("逐段审核、核验引用、检索相似案例，并生成改写稿…")
            report = state.reviewer(with_llm=True).review(draft.text, clearance=user.clearance, user=user.username, genre=genre)
            status.update(label="大模型审核完成", state="complete")
        st.session_state[RESULT] = (draft.source, report)
    st.rerun()
if RESULT in st.session_state:
    show(*st.session_state[RESULT], downloads=True)
