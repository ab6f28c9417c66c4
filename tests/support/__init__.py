"""What the tests share besides fixtures: paths of the shared data, settings in private folders, a probed
client for the TGI double, a gate calibration for the double's model, and the texts of the classified test policies. ``support.factories`` makes bad
and good input files; ``support.tgi_double`` is a test double of a TGI server at its HTTP boundary."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from comply.config import Settings, load_settings
from comply.llm.client import ChatOptions, LlmClient

PROJECT = Path(__file__).resolve().parents[2]
SHARED = PROJECT.parent / "shared"
CORPUS = SHARED / "corpus"
REGULATIONS = CORPUS / "regulations"
DEV = SHARED / "eval" / "dev"


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings pointing at a private data folder and the real corpus."""
    return load_settings(data_dir=data_dir, corpus_dir=CORPUS, **overrides)


SECRET_POLICY = """# 衡岳证券内部合规手册（秘密）

第一条 为规范营销人员客户招揽行为，制定本手册。

第二条 营销人员向高净值客户推介私募产品前，须经合规部双人复核，复核代号为“青鸾计划”。

第三条 对客户投诉的处理时限为五个工作日，超过时限的须报告首席合规官。
"""

INTERNAL_POLICY = """# 衡岳证券员工执业行为守则（内部）

第一条 员工不得在朋友圈发布未经合规审查的产品宣传材料。

第二条 员工不得向客户承诺收益，不得代客理财，违者按“白鹭条款”处理。

第三条 员工发现客户疑似洗钱的，应当在当日报告合规部。
"""


def tgi_client(double) -> LlmClient:
    """A probed client for the double, with short timeouts and back-off."""
    client = LlmClient(double.url, options=ChatOptions(timeout_s=5.0, retries=1, backoff_s=0.01))
    client.probe()
    return client


def calibrated(settings: Settings, folder: Path, threshold: float | None, rules_sha256: str | None = None) -> Settings:
    """Settings whose shipped gate calibration, written in ``folder``, is for the double's model (``tgi:test/tgi``) at
    ``threshold`` (0.0 opens the gate to every model finding in a marketing genre), current for these settings unless
    ``rules_sha256`` says otherwise; its one category record is misleading_statement, found 8, confirmed 2."""
    from review.gate import Calibration, CategoryRecord, save_calibration

    path = folder / "gate.json"
    rules = rules_sha256 or hashlib.sha256(settings.review_rules_file.read_bytes()).hexdigest()
    save_calibration(path, Calibration("tgi:test/tgi", threshold, None if threshold is None else 1.0, 0.9,
                                       {"misleading_statement": CategoryRecord(8, 2)}, "dev.jsonl", "0" * 64, 40,
                                       "2026-12-06T00:00:00+00:00", rules, Path(settings.embed_model_path()).name))
    return settings.model_copy(update={"review_gate_file": path})


def clause_text(body: dict, n: int) -> str:
    """The text of clause [n] as the prompt gave it to the model."""
    prompt = body["messages"][-1]["content"]
    match = re.search(rf"^\[{n}\] [^\n]*\n(.*?)(?=\n\n\[\d+\] |\n\n【问题】)", prompt, re.S | re.M)
    assert match, f"clause [{n}] not in prompt"
    return match.group(1)


def first_sentence(text: str) -> str:
    """The text up to the first 。, ； or line break."""
    return re.split(r"[。；\n]", text)[0]
