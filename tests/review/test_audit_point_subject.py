"""An audit point's subject is a whole role noun (客户经理, not 客户 + 经理…), with role heads from the cases' data."""

from __future__ import annotations

import pytest
from support import CORPUS, make_settings

from comply.db import connect
from kb_ingest.ingest import ingest
from review.audit_points import extract_audit_points
from review.role_nouns import case_roles

POLICY = """# 衡岳证券展业行为细则

第一条 客户经理在微信朋友圈发布产品信息，应当事先经合规部审核。

第二条 投资顾问在直播中不得对个股涨跌作出确定性判断。

第三条 理财经理向客户推介产品时，应当说明产品风险等级。

第四条 营业部负责人应当每月检查员工的营销留痕。

第五条 财富经理不得替客户保管交易密码。

第六条 合规总监应当每季度向董事会报告营销合规情况。

第七条 客户应当如实提供身份信息。

第八条 任何机构和个人均不得冒用本公司名义开展营销。
"""


@pytest.fixture(scope="module")
def points(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("subject-kb")
    settings = make_settings(root / "data")
    con = connect(settings.db_path)
    policy = root / "衡岳证券展业行为细则.md"
    policy.write_text(POLICY, encoding="utf-8")
    assert ingest(settings, con, [CORPUS / "cases" / "cases.jsonl", policy]).errors == []
    return con, {p.article: p for p in extract_audit_points(con, "衡岳证券展业行为细则", 0)}


def test_role_heads_come_from_the_cases(points):
    con, _ = points
    heads = case_roles(con, 0).heads
    assert {"经理", "顾问", "负责人"} <= heads


@pytest.mark.parametrize(("article", "subject", "requirement"), [
    ("第一条", "客户经理", "在微信朋友圈发布产品信息，应当事先经合规部审核"),
    ("第二条", "投资顾问", "在直播中不得对个股涨跌作出确定性判断"),
    ("第三条", "理财经理", "向客户推介产品时，应当说明产品风险等级"),
    ("第四条", "营业部负责人", "应当每月检查员工的营销留痕"),
    ("第五条", "财富经理", "不得替客户保管交易密码"),
    ("第六条", "合规总监", "应当每季度向董事会报告营销合规情况"),
    ("第七条", "客户", "应当如实提供身份信息"),
    ("第八条", "任何机构和个人", "均不得冒用本公司名义开展营销"),
])
def test_subject_is_a_whole_role_noun(points, article: str, subject: str, requirement: str):
    _, by_article = points
    point = by_article[article]
    assert (point.subject, point.requirement) == (subject, requirement)
