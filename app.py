"""合规智能助手 — the Streamlit app: ``streamlit run app.py``.

Signed out, only the 登录 page exists; signed in, the navigation lists the pages the user's role may
open (``assistant.accounts.can``). The pages live in ``ui/pages/`` and are thin over the packages.
"""

import streamlit as st

from comply.audit_key import AuditKeyError
from comply.db import DatabaseBusyError
from ui import nav, state
from ui.safe_text import plain

st.set_page_config(page_title="合规智能助手", page_icon="⚖️", layout="wide")
try:
    user = state.current_user()
    page = nav.navigation(user)
    if user is not None:
        nav.sidebar(user)
    page.run()
except (AuditKeyError, DatabaseBusyError) as exc:  # nothing was changed: say why, never a traceback
    st.error(plain(exc))
