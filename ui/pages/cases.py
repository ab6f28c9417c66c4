"""处罚案例: search by conduct and filter penalty / supervisory cases; open one to read it and the clauses it cites."""

import streamlit as st

from retrieval import cases
from retrieval.search import Searcher
from retrieval.store import live_version
from ui import nav, state
from ui.display import source_markdown, table_rows
from ui.safe_text import plain

user = nav.require("cases")
cur = state.cursor()

st.title("处罚案例")
st.caption(f"仅显示您有权查看（{user.clearance_name}及以下）的案例和条款。")
if live_version(cur, state.settings().index_root) is None:
    st.error("知识库尚未建立索引，请管理员先导入法规和案例")
    st.stop()
facets = cases.case_facets(cur, user.clearance)
query = st.text_input("按违规行为搜索", key="cases_query", placeholder="例如：营业部员工替客户买卖股票",
                      max_chars=state.settings().max_question_chars)
authority, year, measure, tag = st.columns(4)
flt = cases.CaseFilter(
    authority.selectbox("处罚机关", facets.authorities, index=None, placeholder="全部", key="cases_authority"),
    year.selectbox("年份", facets.years, index=None, placeholder="全部", key="cases_year"),
    measure.selectbox("措施类型", facets.measure_types, index=None, placeholder="全部", key="cases_measure"),
    tag.selectbox("违规标签", facets.tags, index=None, placeholder="全部", key="cases_tag"),
)
rows = cases.find_cases(Searcher(state.settings(), cur), user.clearance, query or "", flt)
st.caption(f"共 {len(rows)} 个案例，" + ("按与搜索内容的相似度排序" if (query or "").strip() else "按日期从新到旧"))
st.dataframe(
    table_rows([{"日期": r["date"], "标题": r["title"], "处罚机关": r["authority"], "措施类型": r["measure_type"],
                 "处罚": r["penalty"], "违规摘要": r["summary"]} for r in rows]),
    hide_index=True, key="cases_table",
)

titles = {r["case_id"]: f"{r['date'] or ''} {r['title']}" for r in rows}
case_id = st.selectbox("查看案例", list(titles), index=None, format_func=titles.get, key="cases_open",
                       placeholder="选择一个案例，查看决定书和所引条款")
case = cases.case_detail(cur, case_id, user.clearance) if case_id else None
if case:
    st.subheader(plain(case["title"]))
    facts = [("处罚机关", case["authority"]), ("日期", case["date"]), ("文号", case["doc_number"]),
             ("当事人", case["party"]), ("当事人类型", case["party_type"]), ("措施类型", case["measure_type"]),
             ("处罚", case["penalty"]), ("违规标签", "、".join(case["tags"] or []))]
    lines = [f"**{k}**：{plain(v)}" for k, v in facts if v]
    if case["source"]:
        lines.append(f"**来源**：{source_markdown(case['source'])}")
    st.markdown("  \n".join(lines))
    if case["violation_summary"]:
        st.markdown(f"**违规事实**：{plain(case['violation_summary'])}")
    if case["full_text"]:
        with st.expander("决定书全文", key="cases_full_text"):
            st.markdown(plain(case["full_text"]))
    st.markdown("**所引条款**")
    cited = cases.case_clauses(cur, case["case_id"], user.clearance)
    if not cited:
        st.caption("该案例没有可识别的条款引用")
    for n, c in enumerate(cited):
        if c["chunk_id"]:
            with st.expander(plain(f"{c['role']}：{c['raw']} → 《{c['doc_title']}》{c['article'] or ''}"), key=f"cases_clause_{n}"):
                st.caption(f"{plain(c['path'])} · 密级：{c['level']}")
                st.markdown(plain(c["text"]))
        else:
            st.caption(plain(f"{c['role']}：{c['raw']}（{c['note'] or '未链接到知识库中的条款'}）"))
