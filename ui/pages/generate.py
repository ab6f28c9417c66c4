"""营销物料: product copy from a brief, and personalised client notes (with consent), each shown with its review."""

import json

import streamlit as st

from assistant.clients import consent
from assistant.clients.demo import load_samples
from assistant.clients.importer import ImportDataError, import_clients, import_holdings, import_market
from assistant.clients.profiles import consented_clients, list_clients
from assistant.clients.tables import TableError
from assistant.generate.batch import JobStatus, job_items, job_status, jobs, run_job, start_job
from assistant.generate.brief import CHANNEL_NAMES, BriefError, parse_brief
from assistant.generate.loop import Generated
from assistant.generate.marketing import GenerationRefused, generate_marketing
from assistant.generate.personal import PersonalError, generate_personal
from review import export
from comply.text import EMPTY
from ui import generation, nav, state, widget_text
from ui.article import article_markdown
from ui.display import FINDING_WRAPPED, model_note, wrapping
from ui.highlight import highlight_html
from ui.safe_text import plain

RESULTS = "generate_results"  # [(title, Generated, channel)] of the last product run
CLIENT_RESULT = "generate_client_result"
UPLOADER_ROUND = "generate_uploader_round"  # bumped to clear the consent-letter uploader

user = nav.require("generate")
settings = state.settings()
cur = state.cursor()
taxonomy = state.reviewer(with_llm=False).taxonomy
names = {c.id: c.name_zh for c in taxonomy.categories}


def show_text(text: str, markdown: bool) -> None:
    """The generated text: an article rendered (its Markdown made safe) with the source to copy below; other text
    as is, with a copy button."""
    if not markdown:
        st.code(text, language=None, wrap_lines=True)
        return
    with st.container(border=True):
        st.markdown(article_markdown(text))
    with st.expander("复制全文（Markdown）", expanded=False):
        st.code(text, language="markdown", wrap_lines=True)


def show(title: str, result: Generated, key: str, markdown: bool = False) -> None:
    """One generated piece: verdict, text (highlighted when findings remain), notes, findings and downloads."""
    st.subheader(plain(title))
    mode = "大模型生成" if result.mode == "llm" else "模板生成（未使用大模型）"
    st.markdown(f"**{mode}** · {plain(export.mode_label(result.report) + model_note(result.report))} · {result.rounds} 轮 · 用时 {result.total_s:.1f} 秒")
    if result.clean:
        st.success("合规审核通过：未发现问题")
    else:
        st.warning(f"终稿仍有 {len(result.report.findings)} 个问题，请修改后再使用")
        st.html(highlight_html(result.text, result.report.findings, names))
        rows = export.finding_rows(result.report.findings, taxonomy)
        st.dataframe(rows, hide_index=True, key=f"{key}_findings", placeholder=EMPTY,
                     **wrapping(rows, FINDING_WRAPPED, ("片段", "类别")))
    show_text(result.text, markdown)
    for note in result.notes:
        st.info(plain(note))
    text, report = st.columns(2)
    text.download_button("下载文案", result.text.encode("utf-8"), f"{title}.txt", "text/plain", key=f"{key}_txt", on_click="ignore")
    report.download_button("下载审核报告", export.to_markdown(result.report, taxonomy, title), f"{title}-审核报告.md",
                           "text/markdown", key=f"{key}_md", on_click="ignore")


def product_tab() -> None:
    """Product facts → one reviewed draft per chosen channel."""
    upload = st.file_uploader("上传产品资料 JSON（可选，上传后以文件为准）", type=["json"], key="gen_brief_file")
    left, right = st.columns(2)
    fields = {
        "name": left.text_input("产品名称", key="gen_name"),
        "type": right.selectbox("产品类型", generation.PRODUCT_TYPES, key="gen_type", accept_new_options=True),
        "risk_level": left.selectbox("风险等级", ["R1", "R2", "R3", "R4", "R5"], index=2, key="gen_risk"),
        "manager": right.text_input("管理人", key="gen_manager"),
        "benchmark": left.text_input("业绩比较基准", key="gen_benchmark"),
        "fees": right.text_input("费率", key="gen_fees"),
        "highlights": st.text_area("产品特点（每行一条，只写事实）", key="gen_highlights", height=90),
        "audience": left.text_input("目标读者（可选）", key="gen_audience"),
        "institution": right.text_input("机构简称（短信签名）", key="gen_institution"),
    }
    st.caption("业绩（收益率填百分数，如 8.52 表示 8.52%）：只展示完整期间且列明同期业绩比较基准的业绩")
    performance = st.data_editor(
        [{"期间": "", "收益率(%)": None, "基准收益率(%)": None, "数据来源": ""}], num_rows="dynamic", key="gen_perf", placeholder="—",
        column_config={"收益率(%)": st.column_config.NumberColumn(), "基准收益率(%)": st.column_config.NumberColumn()},
    )
    channels = st.multiselect("渠道", list(CHANNEL_NAMES), default=["poster", "wechat_article"], format_func=CHANNEL_NAMES.get,
                              key="gen_channels", placeholder=widget_text.CHOOSE)
    length = st.number_input("字数（0 表示按渠道默认）", min_value=0, max_value=5000, value=0, step=50, key="gen_length")
    if not st.button("生成并审核", key="gen_run", type="primary", icon=":material/campaign:"):
        return
    try:
        if upload:
            data = generation.brief_from_json(upload.getvalue())
            briefs = [parse_brief({**data, "channel": data.get("channel", c)}) for c in (channels if "channel" not in data else [None])]
        else:
            briefs = [generation.brief_from_form({**fields, "length": length or None}, performance, c) for c in channels]
    except (BriefError, ValueError) as exc:
        st.error(plain(exc))
        return
    results = []
    for brief in briefs:
        title = f"{brief.product.name}·{CHANNEL_NAMES[brief.channel]}"
        with st.status(f"正在生成并审核：{plain(title)}…") as status:
            try:
                results.append((title, generate_marketing(state.loop(), brief, user=user.username, clearance=user.clearance,
                                                          max_rounds=settings.generate_rounds), brief.channel))
                status.update(label=f"已生成并审核：{plain(title)}", state="complete", expanded=False)
            except GenerationRefused as exc:
                status.update(label=f"未生成：{plain(title)}", state="error")
                st.error(plain(f"{exc}（依据：{'；'.join(exc.legal_basis)}）"))
    st.session_state[RESULTS] = results


def data_section() -> None:
    """Import clients, holdings and the market summary; the synthetic demo data set."""
    with st.expander("导入客户数据（CSV / Excel）"):
        uploads = {kind: st.file_uploader(label, type=["csv", "xlsx"], key=f"gen_import_{kind}")
                   for kind, label in (("clients", "客户名单"), ("holdings", "持仓"), ("market", "当日市场概况"))}
        importers = {"clients": import_clients, "holdings": import_holdings, "market": import_market}
        if st.button("导入", key="gen_import"):
            for kind, upload in uploads.items():
                if upload is None:
                    continue
                try:
                    with generation.saved_upload(upload.name, upload.getvalue()) as path:
                        result = importers[kind](cur, path, user.username)
                    st.success(f"{plain(upload.name)}：导入 {result.rows} 行")
                except (ImportDataError, TableError) as exc:
                    st.error(plain(f"{upload.name}：{exc}"))
        if st.button("载入演示数据（合成数据）", key="gen_samples"):
            counts = load_samples(cur, user.username)
            st.success(f"已载入合成演示数据：客户 {counts['clients']} 位，持仓 {counts['holdings']} 条，授权 {counts['granted']} 项")


def consent_section() -> None:
    """Who consented to what; grant with the signed letter, revoke, purge."""
    clients = {c.client_id: f"{c.client_id} {c.name}" for c in list_clients(cur)}
    st.dataframe(generation.client_rows(cur), hide_index=True, key="gen_clients", placeholder=EMPTY)
    with st.expander("授权管理（登记 / 撤回 / 清除客户数据）"):
        client_id = st.selectbox("客户", list(clients), format_func=clients.get, index=None, key="gen_consent_client",
                                 placeholder=widget_text.placeholder(clients))
        purposes = st.multiselect("用途", list(consent.PURPOSES), format_func=consent.PURPOSES.get, key="gen_consent_purposes",
                                  placeholder=widget_text.CHOOSE)
        letter = st.file_uploader("授权书（PDF / 图片 / 文本，记录其哈希）",
                                  key=f"gen_consent_letter_{st.session_state.get(UPLOADER_ROUND, 0)}_{client_id}")
        confirm = st.checkbox("确认清除该客户的资料、持仓和已生成的材料（不可恢复）", key="gen_purge_confirm")
        grant, revoke, purge = st.columns(3)
        try:
            if grant.button("登记授权", key="gen_grant", disabled=not (client_id and purposes and letter)):
                for p in purposes:
                    consent.grant(cur, client_id, p, letter.getvalue(), letter.name, user.username)
                done("已登记授权，并写入审计日志")
            if revoke.button("撤回授权", key="gen_revoke", disabled=not (client_id and purposes)):
                for p in purposes:
                    consent.revoke(cur, client_id, p, user.username)
                done("已撤回授权：该客户的数据不再用于这些用途")
            if purge.button("清除客户数据", key="gen_purge", disabled=not (client_id and confirm)):
                consent.purge(cur, client_id, user.username)
                done("已清除该客户的资料、持仓和已生成的材料")
        except consent.ConsentError as exc:
            st.error(plain(exc))


def done(message: str) -> None:
    """After a consent change: forget the shown note and the chosen letter, and show the change on a fresh run."""
    st.session_state.pop(CLIENT_RESULT, None)
    st.session_state[UPLOADER_ROUND] = st.session_state.get(UPLOADER_ROUND, 0) + 1
    state.flash(message)
    st.rerun()


def show_item(item: dict) -> None:
    """One client's note from a batch, with its review: verdict, notes and remaining findings."""
    review = json.loads(item["review"]) if item.get("review") else {}
    findings = review.get("findings", [])
    with st.expander(f"{plain(item['client_id'])} 的材料（{'审核通过' if not findings else f'仍有 {len(findings)} 个问题'}）"):
        st.code(item["text"], language=None, wrap_lines=True)
        for note in review.get("notes", []):
            st.info(plain(note))
        if findings:
            rows = [{"片段": f["span"], "类别": names.get(f["category"], f["category"]), "原因": f["explanation"],
                     "改写建议": f["suggestion"]} for f in findings]
            st.dataframe(rows, hide_index=True, placeholder=EMPTY, **wrapping(rows, FINDING_WRAPPED, ("片段", "类别")))


def generate_section() -> None:
    """One client's note, or a resumable batch for every consenting client."""
    kind = st.selectbox("材料类型", list(consent.PURPOSES), format_func=consent.PURPOSES.get, key="gen_kind")
    allowed = {c.client_id: f"{c.client_id} {c.name}" for c in consented_clients(cur, kind)}
    st.caption(f"已授权用于“{consent.PURPOSES[kind]}”的客户：{len(allowed)} 位（未授权或已撤回授权的客户不会出现在这里）")
    one, many = st.columns(2)
    client_id = one.selectbox("单个客户", list(allowed), format_func=allowed.get, index=None, key="gen_client",
                                 placeholder=widget_text.placeholder(allowed))
    if one.button("生成该客户的材料", key="gen_one", disabled=client_id is None):
        title = f"{allowed[client_id]}·{consent.PURPOSES[kind]}"
        with st.status(f"正在生成并审核：{plain(title)}…") as status:
            try:
                st.session_state[CLIENT_RESULT] = (title, generate_personal(
                    state.loop(), client_id, kind, user=user.username, clearance=user.clearance, max_rounds=settings.generate_rounds))
                status.update(label=f"已生成并审核：{plain(title)}", state="complete", expanded=False)
            except PersonalError as exc:
                status.update(label=f"未生成：{plain(title)}", state="error")
                st.error(plain(exc))
    unfinished = [j for j in jobs(cur) if j["state"] != "done"]
    labels = {j["job_id"]: f"{j['job_id']}（{consent.PURPOSES[j['kind']]}，{j['market_date']}）" for j in unfinished}
    resume = many.selectbox("未完成的批量任务", list(labels), format_func=labels.get, index=None, key="gen_resume",
                            placeholder=widget_text.placeholder(labels))
    job_id = None
    if many.button("批量生成全部已授权客户", key="gen_batch", disabled=not allowed):
        try:
            job_id = start_job(cur, kind, user.username)
        except PersonalError as exc:
            st.error(plain(exc))
    if many.button("继续任务", key="gen_continue", disabled=resume is None):
        job_id = resume
    if job_id:
        status = job_status(cur, job_id)
        bar = st.progress(status.finished / max(status.total, 1), text=f"批量任务 {job_id}")

        def progress(s: JobStatus, cid: str) -> None:
            bar.progress(s.finished / max(s.total, 1), text=f"{s.finished}/{s.total}：{plain(cid)} 完成")

        run_job(state.loop(), job_id, user=user.username, clearance=user.clearance, max_rounds=settings.generate_rounds,
                progress=progress)
        st.session_state["gen_job"] = job_id
    if CLIENT_RESULT in st.session_state:
        show(*st.session_state[CLIENT_RESULT], key="gen_client_result")
    if st.session_state.get("gen_job"):
        shown = st.session_state["gen_job"]
        status = job_status(cur, shown)
        st.markdown(f"**批量任务 {shown}**：{'已完成' if status.state == 'done' else '未完成（可继续）'} · "
                    + "，".join(f"{generation.STATE_NAMES.get(k, k)} {v}" for k, v in status.counts.items()))
        items = job_items(cur, shown)
        st.dataframe(generation.item_rows(items), hide_index=True, key="gen_items", placeholder=EMPTY)
        for item in (i for i in items if i["state"] == "done"):
            show_item(item)


st.title("营销物料")
st.caption("生成的每一篇材料都先经合规审核（规则 + 大模型）并附审核报告；数字只能来自您提供的资料，生成后逐一核对。")
product, personal = st.tabs(["产品文案", "客户个性化材料"])
with product:
    product_tab()
    for n, (title, result, channel) in enumerate(st.session_state.get(RESULTS, [])):
        show(title, result, key=f"gen_result_{n}", markdown=channel in generation.MARKDOWN_CHANNELS)
with personal:
    st.caption("客户数据只用于其已授权的用途；撤回授权后不再使用，并可清除。")
    state.show_flash()
    data_section()
    consent_section()
    generate_section()
