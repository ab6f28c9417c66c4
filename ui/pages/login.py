"""登录: username and password → ``assistant.accounts.authenticate``."""

import streamlit as st

from assistant.accounts import AuthError, authenticate, list_users, user_for_oidc
from ui import state
from ui.safe_text import plain

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
        user = authenticate(cur, username.strip(), password, source=state.signin_source())
    except AuthError as exc:
        st.error(plain(exc))
    else:
        state.sign_in(user)
        st.rerun()

if state.oidc_enabled():
    # Optional single sign-on through Streamlit's OIDC support (COMPLY_OIDC=on plus [auth] in secrets.toml).
    if st.user.is_logged_in:
        try:
            state.sign_in(user_for_oidc(cur, st.user.get("email")))
        except AuthError as exc:
            st.error(plain(exc))
            st.button("退出单点登录", key="oidc_logout", on_click=st.logout)
        else:
            st.rerun()
    else:
        st.divider()
        st.button("企业单点登录（OIDC）", key="oidc_login", on_click=st.login)
