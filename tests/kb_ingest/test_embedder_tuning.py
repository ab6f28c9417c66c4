"""Embedder domain adaptation: pairs mined from a tiny real knowledge base, a short real fine-tune, activation,
the audit row, the swap at re-index, and an interrupted run leaving the previous model in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from comply.config import default_embed_model
from kb_ingest.admin import reindex
from kb_ingest.embedder_pairs import count_by_kind, dev_pairs, mine_pairs, pairs_sha256
from kb_ingest.embedder_tuning import AUDIT_ACTION, TuneOptions, split_by_document, tune
from kb_ingest.ingest import ingest
from retrieval.search import Searcher
from retrieval.store import live_version

SAMPLE_LAW = """# 中华人民共和国样例证券法

第一章 总则

第一条 为了规范证券发行和交易行为，保护投资者的合法权益，制定本法。

第二条 证券公司不得对客户证券买卖的收益或者赔偿证券买卖的损失作出承诺。

第二章 证券公司

第一节 业务规则

第三条 证券公司向投资者销售证券，应当充分了解投资者的基本情况和财产状况。

第四条 证券公司从业人员不得私下接受客户委托买卖证券。

第三章 法律责任

第五条 违反本法第二条、第三条的规定，责令改正，给予警告，并处以罚款。

第六条 违反本法第四条的规定，没收违法所得，并处以罚款。
"""

SAMPLE_RULE = """# 样例广告管理办法

第一章 总则

第一条 广告应当真实、合法，不得含有虚假或者引人误解的内容。

第二条 金融广告不得对未来效果、收益作出保证性承诺，依照《样例证券法》第二条处理。

第二章 罚则

第三条 违反本办法第一条的，由市场监督管理部门责令停止发布广告。
"""

SECRET_RULE = """# 样例内部手册

第一章 总则

第一条 营销人员推介产品前须经合规双人复核，代号“青鸾计划”。

第二条 违反本手册第一条的，按“白鹭条款”处理；见本办法第一条。
"""

pytestmark = pytest.mark.integration

CASE = {"id": "case-sample-1", "title": "某证券公司营业部员工承诺收益被出具警示函",
        "violation_summary": "营业部员工向客户承诺保本并补偿亏损。",
        "legal_basis_violated": ["《样例证券法》第二条"]}


@pytest.fixture()
def sample_kb(small_kb, tmp_path):
    """Two public documents (with citations inside and between them), a secret one, and a public case."""
    settings, con = small_kb
    files = tmp_path / "files"
    files.mkdir()
    for name, text in (("中华人民共和国样例证券法", SAMPLE_LAW), ("样例广告管理办法", SAMPLE_RULE)):
        (files / f"{name}.md").write_text(text, encoding="utf-8")
    (files / "样例内部手册.md").write_text(SECRET_RULE, encoding="utf-8")
    cases = files / "cases.jsonl"
    cases.write_text(json.dumps(CASE, ensure_ascii=False) + "\n", encoding="utf-8")
    public = [files / "中华人民共和国样例证券法.md", files / "样例广告管理办法.md", cases]
    assert ingest(settings, con, public, level=0).errors == []
    assert ingest(settings, con, [files / "样例内部手册.md"], level=2).errors == []
    return settings, con


def test_pairs_are_mined_by_kind_from_public_text_only(sample_kb, tmp_path):
    settings, con = sample_kb
    dev = tmp_path / "dev.jsonl"
    dev.write_text(json.dumps({"query": "客户经理说亏了给补，违反哪条？",
                               "relevant": [{"doc": "中华人民共和国样例证券法", "article": "第二条"}]}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    pairs = mine_pairs(con, dev)
    counts = count_by_kind(pairs)
    assert counts["heading"] == 9  # every article of the two public documents sits under a chapter
    by_kind = {k: [p for p in pairs if p.kind == k] for k in counts}
    # Positives are article bodies, without the headings the index puts before them.
    assert {p.positive[:12] for p in by_kind["heading"] if p.anchor == "样例证券法 证券公司 业务规则"} == {
        "证券公司向投资者销售证券", "证券公司从业人员不得私下"}
    label = {text: f"{doc}{no}" for doc, body in (("样例证券法", SAMPLE_LAW), ("样例广告", SAMPLE_RULE))
             for no, text in (line.split(" ", 1) for line in body.splitlines() if line.startswith("第") and "条 " in line)}
    assert {(label[p.anchor], label[p.positive]) for p in by_kind["citation"]} == {
        ("样例证券法第五条", "样例证券法第二条"), ("样例证券法第五条", "样例证券法第三条"), ("样例证券法第六条", "样例证券法第四条"),
        ("样例广告第二条", "样例证券法第二条"),  # 《样例证券法》第二条, across documents
        ("样例广告第三条", "样例广告第一条"),
    }
    [case] = by_kind["case"]
    assert case.anchor == CASE["violation_summary"] and label[case.positive] == "样例证券法第二条"
    [question] = by_kind["dev"]
    assert question.anchor.startswith("客户经理") and label[question.positive] == "样例证券法第二条"
    assert not any("青鸾" in p.anchor + p.positive or "白鹭" in p.anchor + p.positive for p in pairs)
    assert dev_pairs(dev, {}) == []
    assert pairs_sha256(mine_pairs(con, dev)) == pairs_sha256(pairs)  # stable order, so a stable hash
    assert count_by_kind(mine_pairs(con))["dev"] == 0
    train, validation = split_by_document(pairs, 0.3, seed=1)
    assert train and validation and not {p.group for p in train} & {p.group for p in validation}


def _audit_rows(con) -> list[tuple[str, dict]]:
    return [(t, json.loads(d)) for t, d in con.execute(
        "SELECT target, detail FROM audit_log WHERE action = ? ORDER BY seq", [AUDIT_ACTION]).fetchall()]


@pytest.mark.slow
def test_tune_writes_a_versioned_model_that_serves_only_after_reindex(sample_kb, tmp_path):
    settings, con = sample_kb
    base = default_embed_model()
    # The live index as an older version wrote it, without the model's path: it was built with the untuned model.
    live_path = Path(live_version(con, settings.index_root)[1])
    meta = json.loads((live_path / "meta.json").read_text(encoding="utf-8"))
    del meta["embed_model_path"]
    (live_path / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    searcher = Searcher(settings, con)
    assert searcher.embedder().model_path == base

    result = CliRunner().invoke(cli, ["kb", "tune-embedder", "--max-steps", "2", "--no-include-dev", "--activate", "--json"], obj=settings,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    folder = settings.data_dir / "embedders" / out["name"]
    assert out["name"].startswith("m3e-small-ft-") and len(out["name"]) == len("m3e-small-ft-") + 8
    assert out["reindex_needed"] and out["steps"] == 2
    record = json.loads((folder / "training.json").read_text(encoding="utf-8"))
    assert record["pairs"] == {"heading": 9, "citation": 5, "case": 1, "dev": 0}
    assert record["settings"]["seed"] == 42 and record["settings"]["max_steps"] == 2
    assert len(record["data_sha256"]) == 64 and record["base_model"] == base
    assert set(record["validation"]) == {"metric", "candidates", "base", "tuned"} and record["validation_pairs"] > 0
    assert set(record["floors"]) == {"dense_floor", "case_dense_floor"}
    assert (folder / "modules.json").is_file() and not list(folder.parent.glob(".staging-*"))
    assert json.loads(settings.active_embedder_file.read_text(encoding="utf-8"))["name"] == out["name"]
    [(target, detail)] = _audit_rows(con)
    assert target == out["name"] and detail["data_sha256"] == record["data_sha256"] and detail["activated"]
    assert detail["validation"] == record["validation"] and detail["settings"] == record["settings"]
    assert detail["floors"] == record["floors"]

    # New indexes are built with the tuned model; the live one keeps serving with the model it was built with.
    assert settings.embed_model_path() == str(folder)
    assert settings.model_copy(update={"embed_model": base}).embed_model_path() == base
    assert searcher.embedder().model_path == base
    # An ordinary corpus change keeps the live index's model; only a re-index switches to the activated one.
    notice = tmp_path / "样例通知.md"
    notice.write_text("# 样例通知\n\n第一条　客户资料应当保密。\n", encoding="utf-8")
    assert ingest(settings, con, [notice]).errors == []
    assert searcher.index().meta["embed_model_path"] == base and searcher.embedder().model_path == base
    reindex(settings, con, "test")
    assert searcher.index().meta["embed_model_path"] == str(folder)
    assert searcher.embedder().model_path == str(folder)
    assert searcher.search("证券公司承诺赔偿客户损失", k=3, mode="dense")

    # The same data and settings give the same model: reused, not trained again.
    again = tune(settings, con, TuneOptions(max_steps=2, include_dev=False))
    assert again.reused and again.name == out["name"] and len(_audit_rows(con)) == 2


@pytest.mark.slow
def test_an_interrupted_run_leaves_the_previous_model_active(sample_kb):
    settings, con = sample_kb
    first = tune(settings, con, TuneOptions(max_steps=1, include_dev=False, batch_size=4), activate=True)
    stale = settings.data_dir / "embedders" / ".staging-m3e-small-ft-deadbeef-999999999"
    stale.mkdir()  # left by a run killed with -9
    assert settings.embed_model_path() == str(first.path)

    def killed(step: int, total: int, loss: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tune(settings, con, TuneOptions(max_steps=2, include_dev=False, batch_size=4, seed=7), activate=True, progress=killed)
    root = settings.data_dir / "embedders"
    assert sorted(p.name for p in root.iterdir()) == ["active.json", first.name]  # no half model, stale staging swept
    assert settings.embed_model_path() == str(first.path)
    assert len(_audit_rows(con)) == 1


def test_a_broken_or_missing_active_model_falls_back_to_the_shipped_one(small_kb):
    settings, _ = small_kb
    active = settings.active_embedder_file
    active.parent.mkdir(parents=True)
    for content in ("{not json", json.dumps({"name": "m3e-small-ft-00000000"}), json.dumps({"name": "../indexes"})):
        active.write_text(content, encoding="utf-8")
        assert settings.embed_model_path() == default_embed_model()
    assert Path(settings.model_copy(update={"embed_model": "/models/x"}).embed_model_path()) == Path("/models/x")
