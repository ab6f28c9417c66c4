"""文案审核: paste or upload a draft and pick its genre; rule findings at once, the model's after; the stages that ran and
the learned model, highlighted draft, findings table, the model's hints apart (never counted), rewrite, downloads; the
reviewer accepts or dismisses each finding and adds missed passages (stored in the review library, see review.library)."""

from functools import partial

import streamlit as st

from comply.files.limits import ReadLimits
from comply.text import normalise_text
from review import export
from review.draft import DraftError, draft_from_text, review_text
from review.findings import Finding
from review.genre import AUTO
from review.inputs import read_draft
from review.library import MAX_REASON_CHARS, record_decision
from review.pipeline import ReviewReport
from review.stages import FAILED
from assistant.accounts import can_decide
from comply.text import EMPTY
from ui import nav, state
from ui.display import FINDING_WRAPPED, model_note, wrapping
from ui.highlight import highlight_html, legend_html
from ui.safe_text import plain

RESULT = "review_result"  # (source, report) of the last review in this session
DECISIONS = "review_decisions"  # {(draft SHA-256, start, end, category): 'accept' | 'dismiss' | 'missed'} of this session
DECISION_ERROR = "review_decision_error"  # a refused decision on a finding: its message, shown once
MISSED_ERROR = "review_missed_error"  # a refused 补充漏报: its message, shown once below the form
DONE = {"accept": "已采纳", "dismiss": "已驳回", "missed": "已记录漏报"}
HINT_WRAPPED = ("说明", "原因")  # the hints table's columns read in full
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
    st.caption(plain(export.learned_label(report)))
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
    rows = export.hint_rows(report.hints, taxonomy)
    st.dataframe(rows, hide_index=True, key="review_hints", placeholder=EMPTY, **wrapping(rows, HINT_WRAPPED, ("片段", "类别")))


def _decide(report: ReviewReport, start: int, end: int, category: str, decision: str, reason: str, error_key: str,
            finding: Finding | None = None) -> None:
    """Record the reviewer's decision on a span of the reviewed draft and remember it for this session; a refusal's
    message goes to ``error_key``."""
    if not can_decide(user):
        st.session_state[error_key] = "只有合规、评测和管理员角色可以作出审核判定"
        return
    try:
        record_decision(state.cursor(), text=report.draft, start=start, end=end, category=category, decision=decision,
                        reviewer=user.username, clearance=user.clearance, reason=reason.strip(),
                        finding_source=finding.source if finding else "", rule_id=finding.rule_id if finding else "",
                        genre=report.genre.id if report.genre else None, categories=taxonomy.ids)
    except ValueError as exc:
        st.session_state[error_key] = str(exc)
        return
    st.session_state.setdefault(DECISIONS, {})[(report.draft_sha256, start, end, category)] = decision


def _on_finding(report: ReviewReport, finding: Finding, decision: str, reason_key: str) -> None:
    _decide(report, finding.start, finding.end, finding.category, decision, st.session_state.get(reason_key) or "",
            DECISION_ERROR, finding)


def _on_missed(report: ReviewReport) -> None:
    """The 补充漏报 form's submit: the passage (normalised as the draft was) must occur verbatim in the reviewed draft."""
    passage = normalise_text(st.session_state.get("review_missed_span") or "").strip()
    start = report.draft.find(passage) if passage else -1
    if not passage:
        st.session_state[MISSED_ERROR] = "请填写漏报的片段"
    elif start < 0:
        st.session_state[MISSED_ERROR] = "该片段不在所审核的原文中，请从原文中逐字复制"
    else:
        _decide(report, start, start + len(passage), st.session_state["review_missed_category"], "missed",
                st.session_state.get("review_missed_reason") or "", MISSED_ERROR)


def show_evidence(finding: Finding) -> None:
    """A learned finding's nearest labelled sentences (相似已判例句), as plain text."""
    with st.expander(f"相似已判例句（{len(finding.evidence)} 条）"):
        for example in finding.evidence:
            st.markdown(plain(example.text))
            st.caption(plain(f"{names.get(example.category, example.category)} · 相似度 {example.similarity:.2f} · "
                             f"样本 {example.draft_id}"))


def show_decisions(report: ReviewReport) -> None:
    """采纳 / 驳回 with an optional 理由 per finding, and the 补充漏报 form; decisions go to the review library."""
    st.subheader("审核判定")
    st.caption("您的判定会存入审核样本库；管理员运行 comply review train（或下次 make run 启动时）用它训练下一版审核模型。")
    error = st.session_state.pop(DECISION_ERROR, None)
    if error:
        st.error(plain(error))
    decided = st.session_state.get(DECISIONS, {})
    tag = report.draft_sha256[:12]
    for n, finding in enumerate(report.findings):
        with st.container(border=True, key=f"review_finding_{n}"):
            score = f" · 学习模型评分 {export.score_text(finding.score)}" if finding.score is not None else ""
            st.markdown(plain(f"{n + 1}. “{finding.span}”（{names.get(finding.category, finding.category)} · "
                              f"{export.source_name(finding.source)}{score}）"))
            if finding.evidence:
                show_evidence(finding)
            done = decided.get((report.draft_sha256, finding.start, finding.end, finding.category))
            if done:
                st.success(DONE[done], icon=":material/check:")
            reason_key = f"review_reason_{tag}_{n}"
            st.text_input("理由（可选）", key=reason_key, max_chars=MAX_REASON_CHARS)
            accept, dismiss = st.columns(2)
            accept.button("采纳", key=f"review_accept_{tag}_{n}", on_click=_on_finding,
                          args=(report, finding, "accept", reason_key), disabled=done == "accept")
            dismiss.button("驳回", key=f"review_dismiss_{tag}_{n}", on_click=_on_finding,
                           args=(report, finding, "dismiss", reason_key), disabled=done == "dismiss")
    missed = [(start, end, category) for (sha, start, end, category), d in decided.items()
              if sha == report.draft_sha256 and d == "missed"]
    with st.form("review_missed", clear_on_submit=True, border=True):
        st.markdown("**补充漏报**：审核没有发现、但确属违规的片段")
        st.text_input("漏报片段（须与原文逐字一致）", key="review_missed_span")
        st.selectbox("违规类别", list(names), format_func=names.__getitem__, key="review_missed_category")
        st.text_input("理由（可选）", key="review_missed_reason", max_chars=MAX_REASON_CHARS)
        st.form_submit_button("提交漏报", on_click=_on_missed, args=(report,))
    error = st.session_state.pop(MISSED_ERROR, None)
    if error:
        st.error(plain(error))
    for start, end, category in missed:
        st.success(plain(f"{DONE['missed']}：“{report.draft[start:end]}”（{names.get(category, category)}）"),
                   icon=":material/check:")


def show(source: str, report: ReviewReport, downloads: bool) -> None:
    """The review of one draft; download buttons and decisions only in the final rendering of a run."""
    st.subheader(f"审核结果：{plain(source)}")
    st.markdown(f"**{plain(export.mode_label(report))}**{plain(model_note(report))} · 共 {len(report.findings)} 个问题 · 用时 {report.total_s:.1f} 秒")
    show_stages(report)
    if report.notice:
        st.info(plain(report.notice))
    if report.findings:
        st.html(legend_html((f.category for f in report.findings), names))
    st.html(highlight_html(report.draft, report.findings, names))
    if report.findings:
        rows = export.finding_rows(report.findings, taxonomy)
        st.dataframe(rows, hide_index=True, key="review_findings", placeholder=EMPTY, **wrapping(rows, FINDING_WRAPPED, ("片段", "类别")))
    else:
        st.success(f"未发现问题（另有 {len(report.hints)} 条待复核提示）" if report.hints else "未发现问题")
    if report.hints:
        show_hints(report)
    if report.dropped:
        st.caption(f"大模型给出的 {len(report.dropped)} 条结论未通过核验（片段不在原文中或引用了未提供的条款），已丢弃")
    if report.rewrite:
        st.subheader(f"改写稿（{report.rounds} 轮）")
        if report.rewrite_note:
            st.caption(plain(export.rewrite_note_label(report)))
        st.code(report.rewrite, language=None, wrap_lines=True)
        if report.rewrite_findings:
            st.warning(plain("改写稿复审仍有问题：" + "；".join(f"“{f.span}”（{names.get(f.category, f.category)}）"
                                                         for f in report.rewrite_findings)))
    elif report.rewrite_note:
        st.info(plain(export.rewrite_note_label(report)))
    if downloads:  # Word and PDF are generated when clicked
        if can_decide(user):  # the author of a draft may not teach the model to pass it
            show_decisions(report)
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
        report = rules.review(draft.text, clearance=user.clearance, user=user.username, audit=llm.client is None, genre=genre,
                              rewrite=llm.client is None)  # a preview needs no rewrite: the model review that follows makes one
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
