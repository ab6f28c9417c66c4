"""The review library over a real database: imports of the dev set, exports, reviewers' decisions, clearance."""

from __future__ import annotations

import io
import json

import pytest
from support import DEV, make_settings

from comply import audit
from comply.db import connect
from review import library
from review.taxonomy import load_taxonomy

DEV_DRAFTS = DEV / "review_drafts.jsonl"


@pytest.fixture()
def categories(small_kb):
    settings, _ = small_kb
    return load_taxonomy(settings.taxonomy_file).ids


def _dev_counts() -> tuple[int, int]:
    items = [json.loads(line) for line in DEV_DRAFTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return len(items), sum(len(item.get("labels") or []) for item in items)


def _actions(con) -> list[tuple[str, dict]]:
    return [(action, json.loads(detail)) for action, detail in
            con.execute("SELECT action, CAST(detail AS VARCHAR) FROM audit_log ORDER BY seq").fetchall()]


def test_import_of_the_dev_set_counts_and_skips_duplicates(small_kb, categories):
    _, con = small_kb
    n_drafts, n_labels = _dev_counts()
    first = library.import_jsonl(con, DEV_DRAFTS, "dev", "alice", categories=categories)
    assert first == library.ImportResult(added=n_drafts, duplicates=0, labels=n_labels)
    again = library.import_jsonl(con, DEV_DRAFTS, "dev", "alice", categories=categories)
    assert again == library.ImportResult(added=0, duplicates=n_drafts, labels=0)

    stored = library.drafts(con)
    assert len(stored) == n_drafts and [d.id for d in stored] == sorted(d.id for d in stored)
    assert sum(len(d.positives) for d in stored) == n_labels and not any(d.negatives for d in stored)
    one = next(d for d in stored if d.id == "dev-rev-003")
    assert one.source == "dev" and one.genre == "fund_promo" and one.level == 0
    assert [one.text[x.start:x.end] for x in one.labels] == ["业内最强的新能源研究团队", "售完即止，欲购从速", "收益比存款高得多"]
    assert all(x.origin == "import" and x.note for x in one.labels)

    imports = [detail for action, detail in _actions(con) if action == "review.library.import"]
    assert [(d["added"], d["duplicates"], d["labels"]) for d in imports] == [(n_drafts, 0, n_labels)]  # a no-op import is not audited
    assert imports[0]["source"] == "dev" and len(imports[0]["file_sha256"]) == 64
    assert audit.verify(con).ok


def test_a_bad_line_is_named_and_nothing_is_added(small_kb, categories, tmp_path):
    _, con = small_kb
    good = DEV_DRAFTS.read_text(encoding="utf-8").splitlines()[:2]
    bad = json.dumps({"id": "x", "text": "本产品稳健。", "labels": [{"span": "保本保收益", "category": "guaranteed_return"}]},
                     ensure_ascii=False)
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([*good, bad]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第 3 行.*保本保收益"):
        library.import_jsonl(con, path, "bad", "alice", categories=categories)
    unknown = json.dumps({"id": "y", "text": "保本保收益", "labels": [{"span": "保本", "category": "no_such_category"}]},
                         ensure_ascii=False)
    path.write_text("\n".join([*good, unknown]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第 3 行.*no_such_category"):
        library.import_jsonl(con, path, "bad", "alice", categories=categories)
    clash = json.dumps({"id": json.loads(good[0])["id"], "text": "另一篇文案"}, ensure_ascii=False)
    path.write_text("\n".join([*good, clash]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="第 3 行.*已被库中另一篇文案使用"):  # found while writing: rolled back
        library.import_jsonl(con, path, "bad", "alice", categories=categories)
    assert library.drafts(con) == []
    assert con.execute("SELECT COUNT(*) FROM review_library_labels").fetchone()[0] == 0
    assert _actions(con) == []


def test_decisions_update_stats_and_the_audit_chain(small_kb, categories):
    _, con = small_kb
    library.import_jsonl(con, DEV_DRAFTS, "dev", "alice", categories=categories)
    draft = next(d for d in library.drafts(con) if d.id == "dev-rev-003")
    start = draft.text.index("售完即止")
    common = {"text": draft.text, "reviewer": "bob", "clearance": 1, "categories": categories}
    library.record_decision(con, start=start, end=start + 4, category="improper_solicitation", decision="accept",
                            finding_source="rule", rule_id="urgency", **common)
    library.record_decision(con, start=0, end=5, category="absolute_terms", decision="accept", finding_source="llm", **common)
    # bob changes his mind on the second: it is dismissed instead (replaced, not counted twice)
    seq = library.record_decision(con, start=0, end=5, category="absolute_terms", decision="dismiss", finding_source="llm",
                                  reason="产品名称，不是宣传用语", **common)
    library.record_decision(con, start=0, end=5, category="absolute_terms", decision="accept", **{**common, "reviewer": "carol"})
    library.record_decision(con, start=start, end=start + 9, category="misleading_statement", decision="missed", **common)

    assert library.decision_stats(con) == {
        "absolute_terms": {"accepted": 1, "dismissed": 1, "missed": 0, "dismissed:llm": 1},
        "improper_solicitation": {"accepted": 1, "dismissed": 0, "missed": 0, "accepted:rule": 1},
        "misleading_statement": {"accepted": 0, "dismissed": 0, "missed": 1},
    }
    after = next(d for d in library.drafts(con) if d.id == "dev-rev-003")
    assert len(after.labels) == len(draft.labels) + 4 and len(after.negatives) == 1
    assert after.negatives[0] == library.LibraryLabel(0, 5, "absolute_terms", -1, "产品名称，不是宣传用语", "dismiss")
    assert len(library.drafts(con)) == 40  # decided on a draft already in the library: no new draft

    decisions = [detail for action, detail in _actions(con) if action == "review.decision"]
    assert len(decisions) == 5
    dismissed = decisions[2]
    assert dismissed == {"reviewer": "bob", "clearance": "内部", "decision": "dismiss", "category": "absolute_terms",
                         "start": 0, "end": 5, "text_sha256": library.text_sha256(draft.text),
                         "reason": "产品名称，不是宣传用语", "finding_source": "llm", "rule_id": ""}
    log = con.execute("SELECT CAST(detail AS VARCHAR) || COALESCE(target, '') FROM audit_log").fetchall()
    assert not any(draft.text[:20] in row[0] for row in log)  # the draft's text is never written to the log
    assert con.execute("SELECT action FROM audit_log WHERE seq = ?", [seq]).fetchone()[0] == "review.decision"
    assert audit.verify(con).ok


def test_bad_decisions_are_refused_in_chinese(small_kb, categories):
    _, con = small_kb
    base = {"text": "保本保收益，稳赚不赔", "start": 0, "end": 5, "category": "guaranteed_return", "decision": "accept",
            "reviewer": "bob", "clearance": 0, "categories": categories}
    for change, message in [({"category": "nope"}, "未知的违规类别"), ({"decision": "maybe"}, "未知的审核结论"),
                            ({"end": 99}, "超出文案范围"), ({"start": 5}, "超出文案范围"), ({"start": -1}, "超出文案范围"),
                            ({"reason": "长" * 501}, "不能超过 500 字"), ({"clearance": 3}, "未知密级"),
                            ({"reviewer": " "}, "请给出审核人")]:
        with pytest.raises(ValueError, match=message):
            library.record_decision(con, **{**base, **change})
    assert library.drafts(con) == [] and _actions(con) == []
    library.record_decision(con, **{**base, "categories": None})  # the configured taxonomy by default
    assert library.decision_stats(con)["guaranteed_return"]["accepted"] == 1


def test_export_round_trips_and_respects_clearance(small_kb, categories, tmp_path):
    _, con = small_kb
    library.import_jsonl(con, DEV_DRAFTS, "dev", "alice", categories=categories)
    secret_text = "内部版本：本计划年化收益保底8%，名额有限。"
    library.record_decision(con, text=secret_text, start=7, end=13, category="guaranteed_return", decision="missed",
                            reviewer="boss", clearance=2, categories=categories)
    public = library.drafts(con)[0]
    text = public.text
    at = next(i for i in range(1, len(text) - 1) if text.find(text[i:i + 2]) < i)  # a span that also occurs earlier
    library.record_decision(con, text=public.text, start=at, end=at + 2, category="absolute_terms", decision="dismiss",
                            reviewer="bob", clearance=0, categories=categories)

    out = io.StringIO()
    assert library.export_jsonl(con, out, max_level=0) == 40
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert secret_text not in out.getvalue()
    first = next(line for line in lines if line["id"] == public.id)
    assert first["dismissed"] == [{"span": public.text[at:at + 2], "category": "absolute_terms", "note_zh": "",
                                   "origin": "dismiss", "start": at}]
    assert {label["origin"] for line in lines for label in line["labels"]} == {"import"}

    everything = tmp_path / "all.jsonl"
    with everything.open("w", encoding="utf-8") as handle:
        assert library.export_jsonl(con, handle, max_level=2) == 41
    fresh = connect(make_settings(tmp_path / "other").db_path)
    result = library.import_jsonl(fresh, everything, "copy", "alice", categories=categories)
    assert result == library.ImportResult(added=41, duplicates=0, labels=63 + 2)
    assert library.library_sha256(fresh) == library.library_sha256(con)
    assert library.source_totals(con) == {"dev": {"drafts": 40, "labels": 64}, "reviewer": {"drafts": 1, "labels": 1}}
    assert library.decision_stats(fresh) == library.decision_stats(con)  # origins travel with the export


def test_a_higher_clearance_decision_lifts_the_draft_and_long_passages_are_refused(small_kb, categories):
    """A secret reviewer's reason on a draft first seen at 公开 is never exported at 公开; a missed passage is a sentence,
    not a whole draft."""
    _, con = small_kb
    text = "本基金年化收益稳稳8%。欢迎咨询。"
    library.record_decision(con, text=text, start=0, end=11, category="guaranteed_return", decision="accept",
                            reviewer="pub", clearance=0, categories=categories)
    library.record_decision(con, text=text, start=0, end=11, category="guaranteed_return", decision="accept",
                            reviewer="chief", clearance=2, reason="青鸾计划同类话术", categories=categories)
    out = io.StringIO()
    assert library.export_jsonl(con, out, max_level=0) == 0 and "青鸾计划" not in out.getvalue()
    long_text = "很长的一句话。" * 60
    with pytest.raises(ValueError, match="漏报片段不能超过 300 字"):
        library.record_decision(con, text=long_text, start=0, end=len(long_text), category="guaranteed_return",
                                decision="missed", reviewer="pub", clearance=0, categories=categories)
