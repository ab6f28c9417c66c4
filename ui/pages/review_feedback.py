"""审核反馈 (compliance, evaluators, admins): reviewers' decisions per category and per finding source, and what the
review library holds per source; the counts the next learned model is trained on. Tables are ``st.table`` (its cells
render Markdown: a library source name, set on import, goes through ``plain``)."""

import streamlit as st

from comply.text import EMPTY
from review import export
from review.library import REVIEWER_SOURCE, decision_stats, source_totals
from review.taxonomy import load_taxonomy
from ui import nav, state
from ui.safe_text import plain

OUTCOMES = {"accepted": "采纳", "dismissed": "驳回（误报）", "missed": "漏报"}
LIBRARY_SOURCES = {REVIEWER_SOURCE: "审核人判定"}

nav.require("review_feedback")
cur = state.cursor()
names = {c.id: c.name_zh for c in load_taxonomy(state.settings().taxonomy_file).categories}


def count(n: int) -> str:
    """A count, or — when there is none."""
    return str(n) if n else EMPTY


def rate(accepted: int, dismissed: int) -> str:
    """The share of decided findings that were accepted, or — when none was decided."""
    decided = accepted + dismissed
    return f"{accepted / decided:.0%}" if decided else EMPTY


def category_rows(stats: dict[str, dict[str, int]]) -> list[dict[str, str]]:
    """One row per category: 采纳 / 驳回（误报） / 漏报 and the acceptance rate."""
    return [{"类别": names.get(category, category), **{label: count(counts[key]) for key, label in OUTCOMES.items()},
             "采纳率": rate(counts["accepted"], counts["dismissed"])}
            for category, counts in stats.items()]


def finding_source_rows(stats: dict[str, dict[str, int]]) -> list[dict[str, str]]:
    """One row per stage whose findings were decided (规则 / 学习模型 / 大模型 …): 采纳, 驳回（误报）, acceptance rate."""
    totals: dict[str, dict[str, int]] = {}
    for counts in stats.values():
        for key, n in counts.items():
            outcome, _, source = key.partition(":")
            if source:
                totals.setdefault(source, {"accepted": 0, "dismissed": 0})[outcome] += n
    return [{"来源": export.source_name(source), "采纳": count(t["accepted"]), "驳回（误报）": count(t["dismissed"]),
             "采纳率": rate(t["accepted"], t["dismissed"])} for source, t in sorted(totals.items())]


st.title("审核反馈")
st.caption("审核人在「文案审核」中的采纳、驳回与补充漏报，存入审核样本库，用于训练下一版审核模型"
           "（运行 comply review train 或由管理员重新训练）。")
stats = decision_stats(cur)
st.subheader("按违规类别")
if stats:
    st.table(category_rows(stats), hide_index=True)
    by_source = finding_source_rows(stats)
    if by_source:
        st.subheader("按发现来源")
        st.table(by_source, hide_index=True)
else:
    st.info("尚无审核判定")
st.subheader("审核样本库")
totals = source_totals(cur)
if totals:
    st.table([{"来源": plain(LIBRARY_SOURCES.get(source, source)), "文案数": count(t["drafts"]), "标注数": count(t["labels"])}
              for source, t in totals.items()], hide_index=True)
else:
    st.info("样本库为空")
