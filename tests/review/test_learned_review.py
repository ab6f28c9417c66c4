"""The learned review stage: trained from the review library (real embeddings, real DuckDB), audited, used by review.

The model is trained once per session on the dev drafts plus the first 160 extra drafts (a quarter of a minute); the
tests that retrain copy that library into a database of their own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest
from support import DEV as DEV_DIR
from support import REGULATIONS, make_settings

from comply import audit, audit_anchor
from comply.config import Settings
from comply.db import connect
from eval.review import load_dataset
from kb_ingest.ingest import ingest
from review import library
from review.learned import load_model
from review.pipeline import Reviewer
from review.rules import apply_rules, load_default_rules
from review.stages import LEARNED, NO_MODEL, RAN, SKIPPED, UNAVAILABLE
from review.training import OFF, passages, train_from_library

DEV = DEV_DIR / "review_drafts.jsonl"
EXTRA = Path(__file__).resolve().parents[2] / "eval" / "datasets" / "review_drafts_extra.jsonl"
SUBSET = 160


def _doubt(settings: Settings):
    rules = load_default_rules(settings)
    return lambda text, start, end: rules.claim_span(text, start, end) is None


def _seed(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    subset = folder / "extra_subset.jsonl"
    subset.write_text("\n".join(EXTRA.read_text(encoding="utf-8").splitlines()[:SUBSET]) + "\n", encoding="utf-8")
    library.import_jsonl(con, DEV, "dev", "test")
    library.import_jsonl(con, subset, "extra", "test")


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, duckdb.DuckDBPyConnection]:
    """A data folder with one regulation ingested, 200 labelled drafts in its library and a learned model trained on them."""
    folder = tmp_path_factory.mktemp("learned")
    settings = make_settings(folder / "data", audit_key_file=folder / "audit.key")
    con = connect(settings.db_path)
    audit_anchor.bind(settings)  # sign with the key beside the data folder, copied with it
    assert ingest(settings, con, [REGULATIONS / "中华人民共和国广告法.md"]).errors == []  # a review needs a knowledge base
    _seed(con, folder)
    outcome = train_from_library(con, settings, "trainer", doubt=_doubt(settings))
    assert outcome.trained
    return settings, con


def _audit(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str | None, dict]]:
    return [(seq, action, target, json.loads(detail)) for seq, action, target, detail in
            con.execute("SELECT seq, action, target, CAST(detail AS VARCHAR) FROM audit_log ORDER BY seq").fetchall()]


def _own_copy(trained: tuple[Settings, duckdb.DuckDBPyConnection], tmp_path: Path) -> tuple[Settings, duckdb.DuckDBPyConnection]:
    """A private copy of the trained data folder (database and models), for a test that changes it."""
    settings, con = trained
    con.execute("CHECKPOINT")
    shutil.copytree(settings.data_dir, tmp_path / "data")
    shutil.copy(settings.audit_key_file, tmp_path / "audit.key")
    own = make_settings(tmp_path / "data", audit_key_file=tmp_path / "audit.key")
    audit_anchor.bind(own)
    return own, connect(own.db_path)


def test_training_is_audited_versioned_and_current(trained):
    settings, con = trained
    model = load_model(settings.review_models_dir)
    assert model is not None and model.version.startswith("rm-")
    rows = [(target, detail) for _, action, target, detail in _audit(con) if action == "review.train"]
    assert len(rows) == 1
    target, detail = rows[0]
    assert target == model.version and detail["library_sha256"] == library.library_sha256(con) == model.meta["library_sha256"]
    assert detail["drafts"] == 40 + SUBSET and set(detail["cv"]) == set(model.categories)
    assert all(0.2 <= s["threshold"] <= OFF for s in detail["cv"].values())
    # every category that is switched on reached the precision target in cross-validation
    assert all(s["precision"] >= 0.9 for s in detail["cv"].values() if s["threshold"] < OFF)
    assert audit.verify(con).ok
    # nothing changed: --if-stale keeps the model and audits nothing
    again = train_from_library(con, settings, "trainer", if_stale=True, doubt=_doubt(settings))
    assert (again.trained, again.version) == (False, model.version)
    assert sum(action == "review.train" for _, action, _, _ in _audit(con)) == 1


def _rule_misses(settings: Settings, tmp_path: Path) -> list:
    """The library's labelled spans (of the extra drafts it holds) that no rule finding of their category overlaps."""
    subset = tmp_path / "subset.jsonl"
    subset.write_text("\n".join(EXTRA.read_text(encoding="utf-8").splitlines()[:SUBSET]) + "\n", encoding="utf-8")
    rules = load_default_rules(settings)
    return [(d, lab) for d in load_dataset(subset) for lab in d.labels
            if not any(f.category == lab.category and f.start < lab.end and lab.start < f.end for f in apply_rules(d.text, rules))]


def _learned_on(report, lab) -> list:
    return [f for f in report.findings if f.source == "model" and f.category == lab.category and f.start < lab.end and lab.start < f.end]


def test_the_model_recalls_what_the_rules_miss_in_its_library(trained, tmp_path):
    """The labelled spans of the library that the rules miss are what the model is for: most of them it finds."""
    settings, con = trained
    reviewer = Reviewer(settings, con)
    missed = _rule_misses(settings, tmp_path)
    assert missed, "the library has labels the rules miss"
    found = sum(bool(_learned_on(reviewer.review(draft.text, rewrite=False, audit=False), lab)) for draft, lab in missed)
    assert found / len(missed) >= 0.5, (found, len(missed))


def test_a_learned_finding_carries_score_evidence_and_the_model_version(trained, tmp_path):
    settings, con = trained
    reviewer = Reviewer(settings, con)
    report, learned = None, []
    for draft, lab in _rule_misses(settings, tmp_path):
        report = reviewer.review(draft.text, rewrite=False)
        learned = _learned_on(report, lab)
        if learned:
            break
    assert learned, "a span the rules miss is flagged by the model trained on it"
    f = learned[0]
    assert 0.0 <= f.score <= 1.0 and f.evidence and all(e.category == f.category for e in f.evidence)
    assert f.as_json()["source"] == "model" and f.as_json()["evidence"][0]["text"] == f.evidence[0].text
    stage = next(s for s in report.stages if s.name == LEARNED)
    assert stage.code == RAN and report.learned_version == reviewer.learned.version
    detail = next(d for seq, _, _, d in _audit(con) if seq == report.audit_seq)
    assert detail["learned_model"] == report.learned_version and detail["stages"][LEARNED] == RAN


def test_quotations_in_anti_fraud_notices_and_disclaimers_are_not_flagged(trained):
    settings, con = trained
    reviewer = Reviewer(settings, con)
    notice = "【防骗提示】近期有不法分子冒充我司员工，以“保本保收益、稳赚不赔、月入过万”为诱饵拉人进群，请不要轻信。"
    disclaimer = "风险提示：基金有风险，投资需谨慎。基金管理人不保证基金一定盈利，也不保证最低收益。"
    for text in (notice, disclaimer):
        report = reviewer.review(text, rewrite=False, audit=False)
        assert [f for f in report.findings if f.source == "model"] == []


def test_evidence_never_comes_from_a_library_draft_above_the_clearance(trained, tmp_path):
    """A secret reviewer's draft trains the model, but its text is evidence (or a prompt example) only for secret eyes."""
    settings, con = _own_copy(trained, tmp_path)
    secret = "青鸾计划内部话术：跟着我们买，这只产品今年稳稳拿到8%，亏了算我的。"
    library.record_decision(con, text=secret, start=0, end=len(secret), category="guaranteed_return", decision="missed",
                            reviewer="chief", clearance=2)
    train_from_library(con, settings, "trainer", doubt=_doubt(settings))
    stage = Reviewer(settings, con).learned
    vector = _encode(settings, [secret])[0]
    for clearance in (0, 1, 2):
        evidence = [e.text for e in stage.model.evidence(vector, "guaranteed_return", clearance)]
        examples = [e.text for e in stage.examples(secret, clearance, 6)]
        assert evidence and examples
        assert (secret in evidence, secret in examples) == ((clearance == 2),) * 2, clearance


def test_a_dismissal_lowers_the_score_of_that_passage_after_retraining(trained, tmp_path):
    settings, con = _own_copy(trained, tmp_path)
    model = load_model(settings.review_models_dir)
    text = "本基金由金牌团队管理，过去三年从未亏损，值得您长期持有。"
    before = model.probabilities([text], _encode(settings, [text]))[0]
    category = model.categories[int(np.argmax(before))]
    for n in range(3):  # three reviewers' drafts holding the passage, each dismissed
        draft = f"第{n + 1}期客户沙龙通知。{text}"
        start = draft.index(text)
        library.record_decision(con, text=draft, start=start, end=start + len(text), category=category, decision="dismiss",
                                reviewer=f"r{n}", clearance=0)
    train_from_library(con, settings, "trainer", doubt=_doubt(settings))
    after = load_model(settings.review_models_dir)
    j = after.categories.index(category)
    assert after.probabilities([text], _encode(settings, [text]))[0, j] < before[j]


def _encode(settings: Settings, texts: list[str]) -> np.ndarray:
    from retrieval.embedding import embedder_for

    return embedder_for(settings).encode(texts)


def test_the_stage_says_why_it_did_not_run(trained, tmp_path):
    settings, con = trained
    off = Reviewer(settings.model_copy(update={"review_learned": False}), con).review("本基金保本保收益。", rewrite=False, audit=False)
    assert next(s for s in off.stages if s.name == LEARNED).code == SKIPPED and off.learned_version is None
    own, own_con = _own_copy(trained, tmp_path)
    models = own.review_models_dir.rename(tmp_path / "models-aside")
    none = Reviewer(own, own_con).review("本基金保本保收益。", rewrite=False, audit=False)
    stage = next(s for s in none.stages if s.name == LEARNED)
    assert stage.code == NO_MODEL and "comply review train" in stage.reason
    assert none.findings and all(f.source == "rule" for f in none.findings)  # the rules still review
    models.rename(own.review_models_dir)
    meta_file = load_model(own.review_models_dir).folder / "model.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta_file.write_text(json.dumps(meta | {"embed_key": "another-model@onnx-fp32"}), encoding="utf-8")
    stale = next(s for s in Reviewer(own, own_con).review("本基金保本保收益。", rewrite=False, audit=False).stages if s.name == LEARNED)
    assert stale.code == UNAVAILABLE and "another-model" in stale.reason
    (meta_file.parent / "weights.npz").write_bytes(b"not an archive")
    broken = next(s for s in Reviewer(own, own_con).review("本基金保本保收益。", rewrite=False, audit=False).stages if s.name == LEARNED)
    assert broken.code == UNAVAILABLE and "comply review train" in broken.reason
    assert train_from_library(own_con, own, "setup", if_stale=True, doubt=_doubt(own)).trained, "an unreadable model is retrained"
    assert load_model(own.review_models_dir) is not None


def test_a_library_too_small_to_cross_validate_is_refused(tmp_path):
    settings = make_settings(tmp_path / "data")
    con = connect(settings.db_path)
    lines = DEV.read_text(encoding="utf-8").splitlines()[:6]
    (tmp_path / "few.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    library.import_jsonl(con, tmp_path / "few.jsonl", "dev", "test")
    with pytest.raises(ValueError, match="至少需要 10 篇"):
        train_from_library(con, settings, "trainer")
    assert not (settings.review_models_dir / "current.json").exists()


def test_a_dismissed_passage_is_a_weighted_negative():
    draft = library.LibraryDraft("d1", "reviewer", None, "甲句保本。乙句稳赚。", 0, (
        library.LibraryLabel(0, 5, "guaranteed_return", 1, "", "import"),
        library.LibraryLabel(5, 10, "guaranteed_return", -1, "", "dismiss"),
    ))
    p = passages([draft], ["guaranteed_return"])
    assert p.texts == ["甲句保本。", "乙句稳赚。"] and p.y[:, 0].tolist() == [1, 0] and p.weight[1, 0] > p.weight[0, 0]


def test_without_a_model_the_rewrite_is_the_template_one_and_passes_rereview(trained):
    settings, con = trained
    text = "本基金保本保收益，业内最强团队管理。认购请联系客户经理。"
    report = Reviewer(settings, con).review(text, audit=False)
    rewrite = next(s for s in report.stages if s.name == "rewrite")
    assert rewrite.code == RAN and report.rewrite and report.rewrite_findings == []
    assert "保本保收益" not in report.rewrite and "模板" in report.rewrite_note
