"""用户管理 (admin): list accounts, create one, change role / clearance / display name / disabled, reset a password, unlock."""

import streamlit as st

from assistant.accounts import ROLES, create_user, get_user, list_users, set_password, unlock_user, update_user
from assistant.passwords import MIN_PASSWORD_LENGTH
from comply.levels import level_name
from ui import nav, state
from ui.display import table_rows
from ui.safe_text import plain

CLEARED = "users_cleared"  # text inputs to empty when the next run starts (a drawn widget's value cannot change)
NEW_USER_KEYS = ("users_new_name", "users_new_display", "users_new_password")
PASSWORD_HELP = f"至少 {MIN_PASSWORD_LENGTH} 个字符；不能是常见密码、不能包含用户名、不能是重复或连续的字符"

user = nav.require("users")
cur = state.cursor()
# nobody sees, changes, unlocks or resets the password of an account above their own clearance, nor grants one above it
LEVEL_OPTIONS = list(range(user.clearance + 1))


def load_edit_form() -> None:
    """Fill the edit form with the selected account as stored."""
    chosen = get_user(state.cursor(), st.session_state.get("users_edit_name") or "")
    if chosen is not None and chosen.clearance <= user.clearance:
        st.session_state.update(users_edit_display=chosen.display_name, users_edit_role=chosen.role,
                                users_edit_clearance=chosen.clearance, users_edit_disabled=chosen.disabled)


def attempt(done: str, action, *args, clear: tuple[str, ...] = (), **kwargs) -> None:
    """Run an account change; a ValueError is shown (the form keeps what was typed), success is reported after a
    rerun that empties the ``clear`` text inputs."""
    try:
        action(*args, **kwargs)
    except ValueError as exc:
        st.error(plain(exc))
        return
    state.flash(done)
    st.session_state[CLEARED] = clear
    st.rerun()


for cleared in st.session_state.pop(CLEARED, ()):
    st.session_state[cleared] = ""
st.title("用户管理")
state.show_flash()
accounts = [u for u in list_users(cur) if u.clearance <= user.clearance]
st.dataframe(table_rows([{"用户名": u.username, "显示名": u.display_name, "角色": u.role_name, "密级": u.clearance_name,
                          "状态": "已停用" if u.disabled else "启用"} for u in accounts]), hide_index=True, key="users_table")
names = [u.username for u in accounts]
create_tab, edit_tab, password_tab, unlock_tab = st.tabs(["新建用户", "修改用户", "重置密码", "解除登录限制"])

with create_tab, st.form("users_create_form"):
    username = st.text_input("用户名", key="users_new_name", help="2–32 位字母、数字或 _ . -")
    display = st.text_input("显示名", key="users_new_display")
    role = st.selectbox("角色", list(ROLES), format_func=ROLES.get, key="users_new_role")
    clearance = st.selectbox("密级", LEVEL_OPTIONS, format_func=level_name, key="users_new_clearance")
    password = st.text_input("初始密码", type="password", key="users_new_password", help=PASSWORD_HELP)
    if st.form_submit_button("创建用户", type="primary", key="users_create"):
        attempt(f"已创建用户 {username.strip()}", create_user, cur, username.strip(), password, role, clearance, display,
                clear=NEW_USER_KEYS, actor=user.username)

with edit_tab:
    st.selectbox("选择用户", names, key="users_edit_name", on_change=load_edit_form)
    if "users_edit_role" not in st.session_state:
        load_edit_form()
    with st.form("users_edit_form"):
        st.text_input("显示名", key="users_edit_display")
        st.selectbox("角色", list(ROLES), format_func=ROLES.get, key="users_edit_role")
        st.selectbox("密级", LEVEL_OPTIONS, format_func=level_name, key="users_edit_clearance")
        st.checkbox("停用该账户", key="users_edit_disabled")
        if st.form_submit_button("保存修改", type="primary", key="users_save"):
            s = st.session_state
            attempt(f"已保存用户 {s.users_edit_name} 的修改", update_user, cur, s.users_edit_name, role=s.users_edit_role,
                    clearance=s.users_edit_clearance, disabled=s.users_edit_disabled, display_name=s.users_edit_display,
                    actor=user.username)

with password_tab, st.form("users_password_form", clear_on_submit=True):
    target = st.selectbox("选择用户", names, key="users_pw_name")
    new_password = st.text_input("新密码", type="password", key="users_pw_new", help=PASSWORD_HELP)
    if st.form_submit_button("重置密码", key="users_pw_reset"):
        attempt(f"已重置用户 {target} 的密码", set_password, cur, target, new_password, actor=user.username)

with unlock_tab, st.form("users_unlock_form"):
    st.caption("登录失败过多时，账户对未曾成功登录过的设备会暂停登录一段时间；确认是本人后可在此立即解除。")
    locked_name = st.selectbox("选择用户", names, key="users_unlock_name")
    if st.form_submit_button("解除登录限制", key="users_unlock"):
        attempt(f"已解除用户 {locked_name} 的登录限制", unlock_user, cur, locked_name, actor=user.username)
