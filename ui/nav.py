"""Pages, navigation by role, the page guard and the sidebar."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from assistant.accounts import User, can
from retrieval.store import live_version
from ui import state, widget_text
from ui.safe_text import plain

DENIED = "无权访问"


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its permission key (also its URL path), title, icon and script."""

    key: str
    title: str
    icon: str
    path: str  # relative to app.py


PAGES: tuple[PageSpec, ...] = (
    PageSpec("qa", "合规问答", ":material/forum:", "ui/pages/qa.py"),
    PageSpec("review", "文案审核", ":material/fact_check:", "ui/pages/review.py"),
    PageSpec("batch", "批量审核", ":material/playlist_add_check:", "ui/pages/batch.py"),
    PageSpec("review_feedback", "审核反馈", ":material/insights:", "ui/pages/review_feedback.py"),
    PageSpec("generate", "营销物料", ":material/campaign:", "ui/pages/generate.py"),
    PageSpec("cases", "处罚案例", ":material/gavel:", "ui/pages/cases.py"),
    PageSpec("kb", "知识库", ":material/library_books:", "ui/pages/kb.py"),
    PageSpec("audit", "审计日志", ":material/policy:", "ui/pages/audit.py"),
    PageSpec("eval", "评测", ":material/monitoring:", "ui/pages/eval.py"),
    PageSpec("users", "用户管理", ":material/group:", "ui/pages/users.py"),
)
LOGIN = PageSpec("login", "登录", ":material/login:", "ui/pages/login.py")


def allowed_pages(user: User) -> list[PageSpec]:
    """The pages the user's role may open, in menu order."""
    return [p for p in PAGES if can(user, p.key)]


def navigation(user: User | None) -> StreamlitPage:
    """The navigation for this run: 登录 when signed out; otherwise every page, those not allowed hidden.

    Signed out, every page's URL opens the login form, and after signing in the same URL opens that
    page (a deep link survives the login). Hidden pages stay routable, so opening one by its URL shows
    :data:`DENIED` instead of another page. Every run also gets :mod:`ui.widget_text`'s Chinese for Streamlit's widgets.
    """
    widget_text.inject()
    if user is None:
        login = st.Page(LOGIN.path, title=LOGIN.title, icon=LOGIN.icon, url_path=LOGIN.key, default=True)
        return st.navigation([login] + [
            st.Page(LOGIN.path, title=LOGIN.title, icon=LOGIN.icon, url_path=p.key, visibility="hidden") for p in PAGES
        ], position="hidden")
    allowed = allowed_pages(user)
    home = allowed[0] if allowed else PAGES[0]
    return st.navigation([
        st.Page(p.path, title=p.title, icon=p.icon, url_path=p.key, default=p is home,
                visibility="visible" if p in allowed else "hidden")
        for p in PAGES
    ])


def require(page_key: str) -> User:
    """The signed-in user if they may open this page; otherwise show 无权访问 and stop the page."""
    user = state.current_user()
    if user is None or not can(user, page_key):
        st.error(DENIED)
        st.stop()
    return user


def sidebar(user: User) -> None:
    """Who is signed in, the LLM backend and live index version, and the 退出登录 button."""
    with st.sidebar:
        st.markdown(f"**{plain(user.display_name)}**（{plain(user.username)}）")
        st.caption(f"角色：{user.role_name} · 密级：{user.clearance_name}")
        live = live_version(state.cursor(), state.settings().index_root)
        version = live[0] if live else None
        st.caption(f"大模型：{plain(state.backend().label)}  \n索引版本：{f'v{version}' if version else '尚未建立'}")
        if st.button("退出登录", key="logout", icon=":material/logout:"):
            state.sign_out()
            st.rerun()
