"""审计日志 (admin): the hash-chained audit log, filtered, verified, sealed and exported at the reader's clearance."""

import streamlit as st

from assistant.accounts import ROLES
from comply import audit, audit_view
from comply.audit_names import action_name
from comply.files.office import safe_cell
from comply.text import EMPTY
from ui import nav, state
from ui.safe_text import plain

user = nav.require("audit")
cur = state.cursor()
settings = state.settings()


def _show(chain: audit.ChainReport) -> None:
    if chain.ok:
        st.success(plain(chain.summary() + "；已写入新锚点"))
    else:
        st.error(plain(chain.summary()))


def _export() -> bytes:
    return audit_view.export_zip(cur, settings, user.clearance)[1]


st.title("审计日志")
if st.button("校验哈希链", key="audit_verify", type="primary", icon=":material/verified:"):
    _show(audit.seal(cur, settings))

actions, actors = audit_view.facets(cur)
action_col, actor_col, date_col = st.columns(3)
chosen_actions = action_col.multiselect("操作类型", actions, format_func=action_name, key="audit_actions", placeholder="全部")
chosen_actors = actor_col.multiselect("操作人", actors, key="audit_actors", placeholder="全部")
dates = date_col.date_input("日期范围（北京时间）", value=(), key="audit_dates")
start, end = (tuple(dates) + (None, None))[:2]
rows = audit_view.query(cur, chosen_actions, chosen_actors, start, end or start, clearance=user.clearance)
st.caption(f"共 {len(rows)} 条记录（最新在前，时间为北京时间）；密级高于您（{user.clearance_name}）的详情已隐去")
role_names = {("role", code): name for code, name in ROLES.items()}
shown = [{k: safe_cell(v) for k, v in row.items()} for row in audit_view.readable(rows, role_names)]  # CSV runs no formula
st.dataframe(shown, hide_index=True, key="audit_table", placeholder=EMPTY,
             column_order=("seq", "ts", "actor", "operation", "target", "detail", "hash"),
             column_config={"seq": "序号", "ts": "时间（北京时间）", "actor": "操作人", "operation": "操作", "target": "对象",
                            "detail": st.column_config.TextColumn("详情", width="large"), "hash": "哈希"})
st.download_button("导出（记录 CSV + 锚点 + 公钥，ZIP）", _export, "audit_export.zip", "application/zip",
                   key="audit_export", on_click="ignore", disabled=not rows,
                   help="导出前先校验并封存当前链头；导出的记录按您的密级隐去详情")
