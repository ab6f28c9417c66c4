"""评测 (evaluator/admin): the retrieval suite or the review suite on a dataset from the evaluation folders or an
upload (never a path typed in); metrics tables and a bar chart."""

import pandas as pd
import streamlit as st

from retrieval.search import MODES
from comply.text import EMPTY
from ui import eval_datasets, evaluation, nav, state, widget_text
from ui.safe_text import plain

RESULT = "eval_result"  # (suite, report) of the last run in this session
SUITES = {"retrieval": "检索", "review": "文案审核"}

user = nav.require("eval")
settings = state.settings()
cur = state.cursor()

st.title("评测")
suite = st.radio("评测套件", list(SUITES), format_func=SUITES.get, horizontal=True, key="eval_suite")
listed = list(eval_datasets.choices(settings))
default = eval_datasets.default_choice(suite)
dataset = st.selectbox("数据集（评测目录中的 JSONL 文件）", listed, index=listed.index(default) if default in listed else None,
                       key=f"eval_dataset_{suite}", placeholder="评测目录中没有数据集，请上传")
upload = st.file_uploader(f"或上传 JSONL 数据集（上传后以上传的文件为准，不超过 {eval_datasets.MAX_DATASET_MB} MB）",
                          type=["jsonl"], key=f"eval_upload_{suite}")
if suite == "retrieval":
    st.caption(f"检索按您的密级（{user.clearance_name}）进行。")
    modes = st.multiselect("检索模式", list(MODES), default=list(MODES), format_func=evaluation.RETRIEVAL_MODES.get,
                           key="eval_retrieval_modes", placeholder=widget_text.placeholder(MODES))
else:
    llm = state.backend()
    options = ["rules", "baseline"] + (["llm"] if llm.client is not None else [])
    modes = st.multiselect("审核方式", options, default=["rules", "baseline"], format_func=evaluation.REVIEW_MODES.get,
                           key="eval_review_modes", placeholder=widget_text.placeholder(options), help=None if llm.client else f"「规则 + 大模型」不可用：{llm.reason}")

if st.button("运行评测", key="eval_run", type="primary", disabled=not modes or not (dataset or upload)):
    try:
        if upload is not None:
            items = eval_datasets.load_items(upload.name, upload.getvalue(), suite)
        else:
            items = eval_datasets.load_items(dataset, eval_datasets.read_listed(settings, dataset), suite)
        with st.spinner("评测中…（大模型模式可能需要较长时间）"):
            if suite == "retrieval":
                report = evaluation.run_retrieval(settings, cur, items, modes, user.clearance)
            else:
                report = evaluation.run_review(settings, items, modes, clearance=user.clearance, user=user.username,
                                               reviewer=state.reviewer(with_llm=True) if "llm" in modes else None)
    except (OSError, ValueError) as exc:
        st.error(plain(f"评测失败：{exc}"))
    else:
        st.session_state[RESULT] = (suite, report)

if st.session_state.get(RESULT, (None,))[0] == suite:
    report = st.session_state[RESULT][1]
    if suite == "retrieval":
        overall, by_metric = evaluation.retrieval_tables(report)
        st.subheader(f"总体指标（{report['n']} 题）")
        metrics, group = evaluation.RETRIEVAL_METRICS, "文档"
    else:
        names = {c.id: c.name_zh for c in state.reviewer(with_llm=False).taxonomy.categories}
        overall, by_metric = evaluation.review_tables(report, names)
        first = next(iter(report.values()))
        st.subheader(f"总体指标（{first['n_drafts']} 篇，其中干净稿 {first['n_clean']} 篇）")
        metrics, group = evaluation.REVIEW_METRICS, "类别"
    st.dataframe(overall, hide_index=True, key="eval_overall", placeholder=EMPTY)
    metric = st.selectbox("图表指标", metrics, index=len(metrics) - 1, format_func=evaluation.METRIC_NAMES.get, key="eval_metric")
    name = evaluation.METRIC_NAMES[metric]
    st.subheader(f"各{group}{name}")
    table = pd.DataFrame.from_dict(by_metric[metric], orient="index")
    st.altair_chart(evaluation.breakdown_chart(by_metric[metric], name, group), key="eval_chart")
    st.dataframe(table, key="eval_breakdown", placeholder=EMPTY)
