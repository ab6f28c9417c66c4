"""审计日志 (admin): the hash-chained audit log, filtered, verified and exported."""

from functools import partial

import streamlit as st

from comply import audit
from comply.files.office import dicts_csv
from ui import nav, state

user = nav.require("audit")
cur = state.cursor()

st.title("审计日志")
if st.button("校验哈希链", key="audit_verify", type="primary", icon=":material/verified:"):
    chain = audit.verify(cur)
    if chain.ok:
        st.success(f"哈希链完整：共 {chain.rows} 条记录，未发现篡改")
    else:
        st.error(f"哈希链断裂：第一条异常记录 seq={chain.first_broken_seq}（{chain.reason}）")

actions, actors = audit.facets(cur)
action_col, actor_col, date_col = st.columns(3)
chosen_actions = action_col.multiselect("操作类型", actions, key="audit_actions", placeholder="全部")
chosen_actors = actor_col.multiselect("操作人", actors, key="audit_actors", placeholder="全部")
dates = date_col.date_input("日期范围（UTC）", value=(), key="audit_dates")
start, end = (tuple(dates) + (None, None))[:2]
rows = audit.query(cur, chosen_actions, chosen_actors, start, end or start)
st.caption(f"共 {len(rows)} 条记录（最新在前）")
st.dataframe(rows, hide_index=True, key="audit_table",
             column_config={"seq": "序号", "ts": "时间（UTC）", "actor": "操作人", "action": "操作", "target": "对象",
                            "detail": st.column_config.TextColumn("详情", width="large"), "hash": "哈希"})
st.download_button("导出 CSV", partial(dicts_csv, rows), "audit_log.csv", "text/csv", key="audit_csv", on_click="ignore",
                   disabled=not rows)
