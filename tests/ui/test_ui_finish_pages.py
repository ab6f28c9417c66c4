"""UI finish (issue 18), below the browser: the style sheet that puts Chinese in Streamlit's widgets, a generated
article's Markdown made safe, a findings table that wraps its long columns, and the reason the model did not review."""

from __future__ import annotations

import pytest
from support import make_settings

from comply.db import connect
from review.pipeline import Reviewer
from ui.article import article_markdown
from ui.display import FINDING_WRAPPED, model_note, wrapped_lines, wrapping
from ui.widget_text import placeholder, style_sheet

pytestmark = pytest.mark.integration


def test_style_sheet_replaces_each_english_widget_text():
    css = style_sheet(50)
    for selector, chinese in (('[data-testid="stFileUploaderDropzoneInstructions"] span', "单个文件不超过 50 MB"),
                              ('[data-testid="stMarkdownContainer"] p', "选择文件"),
                              ('[data-key="__select_all__"]', "全选"),
                              ('[data-key="__select_matches__"]', "选择全部匹配项"),
                              ('[data-empty="true"]', "没有匹配的选项")):
        assert selector in css and chinese in css, selector
    assert css.count("visibility:hidden") == 5 and placeholder([]) == "没有可选项" and placeholder(["a"]) == "请选择"


def test_article_keeps_its_layout_and_nothing_that_acts():
    text = ("# 认识稳盈一号\n\n导语：**稳健**配置。\n\n## 产品要素\n- 管理人：衡岳基金\n1. 第一点\n"
            "![x](http://evil.example/a.png) [点我](http://evil.example) <img src=x> :red[红] $x$ `code` www.evil.example")
    md = article_markdown(text)
    assert md.startswith("# 认识稳盈一号\n\n导语：**稳健**配置。  \n")
    assert "\n## 产品要素\n- 管理人：衡岳基金  \n1. 第一点  \n" in md
    for active in ("!", "(", "<", ":", "$", "`", "["):  # each one written literally, after a backslash
        assert all(md[i - 1] == "\\" for i, ch in enumerate(md) if ch == active), active
    assert r"\!\[x\]\(http\:\/\/evil\.example\/a\.png\)" in md


def test_findings_table_wraps_reason_and_basis_in_full():
    reason = "明示或暗示保本、无风险或保收益，属于对投资收益作出保证性承诺，违反证券公司不得对客户作出保证收益承诺的规定。"
    rows = [{"片段": "保本", "类别": "承诺收益", "严重程度": "高", "原因": reason, "依据条款": "《证券法》第一百三十五条",
             "改写建议": "删除"}]
    args = wrapping(rows, FINDING_WRAPPED, ("片段", "类别"))
    assert args["column_order"] == ["片段", "类别", "原因", "依据条款", "严重程度", "改写建议"]
    assert wrapped_lines(reason) == 3 and args["row_height"] == 3 * 21 + 16 and args["height"] == "content"
    assert wrapping([{**rows[0], "原因": "短"}], FINDING_WRAPPED).get("row_height") is None, "one line needs no taller rows"


def test_rules_only_review_says_the_model_is_off_not_the_rules(tmp_path):
    settings = make_settings(tmp_path / "data")
    con = connect(settings.db_path)
    report = Reviewer(settings, con, None, "已在配置中关闭").review("保本保收益，稳赚不赔！", audit=False)
    con.close()
    assert model_note(report) == "审核（大模型未运行：已在配置中关闭）"
