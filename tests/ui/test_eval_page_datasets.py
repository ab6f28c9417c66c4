"""The 评测 page reads only datasets from the evaluation folders or an upload, size-limited and checked line by line
(issue 16, item 12): no path typed in, no traceback, a Chinese message naming the line."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest
from support import SHARED, make_settings
from support.apptest import point_app_at
from support.apptest import sign_in as signed_in

from assistant.accounts import create_user
from comply.db import connect
from ui import eval_datasets

pytestmark = pytest.mark.integration

PASSWORD = "Evaluator-pass-2030"
DRAFT = {"id": "d1", "text": "本产品保本保收益，欢迎购买。", "labels": [{"span": "保本保收益", "category": "guaranteed_return"}]}


def jsonl(*objs: object) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


@pytest.fixture()
def app_env(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """An empty knowledge base with an evaluator; the app pointed at it with the LLM off."""
    settings = make_settings(tmp_path / "data")
    con = connect(settings.db_path)
    create_user(con, "eve", PASSWORD, "evaluator", 0)
    con.close()
    for _ in point_app_at(monkeypatch, settings.data_dir, settings.corpus_dir):
        yield settings


def eval_page() -> AppTest:
    at = signed_in("eve", PASSWORD)
    at.switch_page("ui/pages/eval.py").run()
    at.radio(key="eval_suite").set_value("review").run()
    return at


def run_upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="eval_upload_review").upload(name, data, "application/jsonl").run()
    return at.button(key="eval_run").click().run()


def errors(at: AppTest) -> list[str]:
    assert not at.exception, at.exception
    return [e.value.replace("\\", "") for e in at.error]


def test_the_page_offers_only_the_files_of_the_evaluation_folders(app_env):
    at = eval_page()
    assert not at.exception and not at.main.text_input, "no path can be typed in"
    listed = sorted(f"{folder}/{path.name}" for folder in ("dev", "external")
                    for path in (SHARED / "eval" / folder).glob("*.jsonl"))
    box = at.selectbox(key="eval_dataset_review")
    assert sorted(box.options) == listed and box.value == "dev/review_drafts.jsonl"
    at.button(key="eval_run").click().run()
    assert not errors(at) and list(at.dataframe[0].value["方式"]) == ["规则", "关键词基线"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"[1]\n", "bad.jsonl 第 1 行：应为一个 JSON 对象"),
        (jsonl(DRAFT, DRAFT) + b'{"id": "d3", "text": \n', "bad.jsonl 第 3 行：不是合法的 JSON"),
        (jsonl(DRAFT) + "这一行不是 GBK".encode("gbk") + b"\n", "bad.jsonl 第 2 行：不是 UTF-8 编码的文本"),
        (jsonl(DRAFT, {"id": "d2", "body": "没有正文字段"}), "bad.jsonl 第 2 行：缺少 text"),
        (jsonl({**DRAFT, "labels": [{"span": "稳赚不赔", "category": "guaranteed_return"}]}), "bad.jsonl 第 1 行：标注片段“稳赚不赔”不在正文中"),
        (jsonl({**DRAFT, "labels": ["保本"]}), "bad.jsonl 第 1 行：labels 的每一项应为"),
        (b"\n\n", "bad.jsonl 中没有任何条目"),
        (b" " * (eval_datasets.MAX_DATASET_MB * 1024 * 1024 + 1), "过大"),
    ],
)
def test_a_bad_upload_is_refused_with_the_line_named(app_env, data, message):
    at = run_upload(eval_page(), "bad.jsonl", data)
    shown = errors(at)
    assert len(shown) == 1 and message in shown[0], shown
    assert not at.dataframe, "nothing was scored"


def test_a_good_upload_is_scored(app_env):
    at = run_upload(eval_page(), "mine.jsonl", jsonl(DRAFT, {"id": "d2", "text": "本基金过往业绩不预示未来表现。"}))
    assert not errors(at)
    assert at.subheader[0].value == "总体指标（2 篇，其中干净稿 1 篇）"


def test_only_listed_regular_files_are_read(tmp_path):
    root = tmp_path / "eval"
    (root / "dev").mkdir(parents=True)
    (root / "dev" / "mine.jsonl").write_bytes(jsonl(DRAFT))
    (root / "dev" / "passwd.jsonl").symlink_to("/etc/passwd")
    (root / "dev" / "zero.jsonl").symlink_to("/dev/zero")
    (root / "dev" / "notes.txt").write_text("not a dataset", encoding="utf-8")
    settings = make_settings(tmp_path / "data", taxonomy_file=root / "taxonomy.json")
    assert list(eval_datasets.choices(settings)) == ["dev/mine.jsonl"]
    assert eval_datasets.read_listed(settings, "dev/mine.jsonl") == jsonl(DRAFT)
    for label in ("/etc/passwd", "../../etc/passwd", "dev/passwd.jsonl", "dev/zero.jsonl"):
        with pytest.raises(eval_datasets.DatasetError, match="不在评测目录中"):
            eval_datasets.read_listed(settings, label)


def test_retrieval_items_are_checked_too():
    good = {"query": "证券公司能否承诺保本？", "relevant": [{"doc": "中华人民共和国证券法", "article": "第一百三十五条"}]}
    assert [i.query for i in eval_datasets.load_items("q.jsonl", jsonl(good), "retrieval")] == [good["query"]]
    for obj, message in [({"query": "x", "relevant": [1]}, "第 1 行：relevant 应为"),
                         ({"query": "x"}, "第 1 行：需要 relevant"),
                         ({"relevant": good["relevant"]}, "第 1 行：缺少 query")]:
        with pytest.raises(eval_datasets.DatasetError, match=message):
            eval_datasets.load_items("q.jsonl", jsonl(obj), "retrieval")
