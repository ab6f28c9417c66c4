"""文案审核 with a learned model: its version beside the stages, a learned finding's source, score and 相似已判例句
(shown literally, never as markup), and a decision on it recorded with its source in the review library.

The app runs under ``AppTest`` on a real knowledge base and a model really trained on the dev drafts plus a few
labelled drafts whose violating sentence carries markup; the LLM is off.
"""

from __future__ import annotations

import json
import re

import pytest
from support import DEV, REGULATIONS, make_settings
from support.apptest import point_app_at, sign_in

from assistant.accounts import create_user
from comply.db import connect
from kb_ingest.ingest import ingest
from review import library
from review.export import COLUMNS
from review.training import train_from_library

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PASSWORD = "correct-horse-9"
MARKUP = "买它就对了<img src=x>，年化收益稳稳百分之十二"
DRAFT = f"新品发布。{MARKUP}。"
MARKUP_ESCAPED = "买它就对了\\<img src\\=x\\>，年化收益稳稳百分之十二"  # as ui.safe_text.plain writes it
UNESCAPED_TAG = re.compile(r"(?<!\\)<")


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One public regulation, a compliance account, and a learned model trained on the library (file left closed)."""
    folder = tmp_path_factory.mktemp("review-learned-kb")
    settings = make_settings(folder / "data")
    con = connect(settings.db_path)
    assert ingest(settings, con, [REGULATIONS / "广告管理条例.md"], level=0).errors == []
    extra = folder / "markup.jsonl"
    extra.write_text("".join(json.dumps({"id": f"markup-{i}", "genre": "fund_promo", "text": f"第{i}期产品上线。{MARKUP}。详情咨询客户经理。",
                                         "labels": [{"span": MARKUP, "category": "guaranteed_return"}]}, ensure_ascii=False) + "\n"
                             for i in range(6)), encoding="utf-8")
    library.import_jsonl(con, DEV / "review_drafts.jsonl", "dev", "test")
    library.import_jsonl(con, extra, "markup", "test")
    version = train_from_library(con, settings, "trainer").version
    create_user(con, "cleo", PASSWORD, "compliance", 0, actor="test")
    create_user(con, "mark", PASSWORD, "marketer", 0, actor="test")
    con.close()
    return {"data": settings.data_dir, "corpus": settings.corpus_dir, "version": version}


@pytest.fixture()
def app(kb: dict, monkeypatch: pytest.MonkeyPatch):
    for _ in point_app_at(monkeypatch, kb["data"], kb["corpus"]):
        yield kb


def test_a_learned_finding_shows_its_score_and_literal_evidence_and_a_decision_keeps_its_source(app):
    at = sign_in("cleo", PASSWORD)
    at.switch_page("ui/pages/review.py").run()
    at.text_area(key="review_text").input(DRAFT)
    at = at.button(key="review_run").click().run()
    assert not at.exception and not at.error
    assert f"审核模型：{app['version']}" in [re.sub(r"\\(.)", r"\1", c.value) for c in at.caption]
    (table,) = [d.value for d in at.dataframe if tuple(d.value.columns) == COLUMNS]
    learned = [row for row in table.to_dict("records") if row["来源"] == "学习模型"]
    assert learned and re.fullmatch(r"\d+%", learned[0]["学习模型评分"]) and "<img src=x>" in learned[0]["片段"]
    assert {row["来源"] for row in table.to_dict("records")} == {"规则", "学习模型"}

    (evidence,) = [e for e in at.expander if e.label.startswith("相似已判例句（")]
    shown = [m.value for m in evidence.markdown]
    assert shown and all(MARKUP_ESCAPED in v for v in shown), "evidence is shown literally"
    assert not any(UNESCAPED_TAG.search(m.value) for m in at.markdown), "no markup anywhere in the page's Markdown"

    n = next(i for i, m in enumerate(at.markdown) if "学习模型评分" in m.value and m.value[0].isdigit())
    number = int(at.markdown[n].value.split("\\.", 1)[0]) - 1
    at = at.button(key=next(b.key for b in at.button if b.key.startswith("review_accept_") and b.key.endswith(f"_{number}"))).click().run()
    assert not at.exception and not at.error and "已采纳" in [s.value for s in at.success]
    con = connect(app["data"] / "comply.duckdb")
    try:
        stats = library.decision_stats(con)
    finally:
        con.close()
    assert stats["guaranteed_return"]["accepted:model"] == 1


def test_a_marketer_sees_the_review_but_may_not_decide_on_it(app):
    """The author of a draft may not teach the model to pass it: no 采纳 / 驳回 / 补充漏报 for a marketer."""
    at = sign_in("mark", PASSWORD)
    at.switch_page("ui/pages/review.py").run()
    at.text_area(key="review_text").input(DRAFT)
    at = at.button(key="review_run").click().run()
    assert not at.exception and not at.error
    assert any(d for d in at.dataframe if tuple(d.value.columns) == COLUMNS), "the findings are shown"
    assert "审核判定" not in [h.value for h in at.subheader]
    assert not [b for b in at.button if b.key and b.key.startswith(("review_accept_", "review_dismiss_"))]
