"""登录: username and password → ``comply.users.authenticate``."""

import streamlit as st

from comply.users import AuthError, authenticate, list_users
from ui import state

st.title("合规智能助手")
st.caption("证券公司合规知识库 · 条款问答 · 营销文案审核")
cur = state.cursor()
if not list_users(cur):
    st.info("系统中还没有任何账户。请管理员先在命令行创建：`comply users add admin --role admin --clearance 秘密`")
with st.form("login_form"):
    username = st.text_input("用户名", key="login_username", autocomplete="username")
    password = st.text_input("密码", type="password", key="login_password", autocomplete="current-password")
    submitted = st.form_submit_button("登录", type="primary", key="login_submit")
if submitted:
    try:
        user = authenticate(cur, username.strip(), password)
    except AuthError as exc:
        st.error(str(exc))
    else:
        state.sign_in(user)
        st.rerun()
