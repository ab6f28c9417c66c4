"""The chat faithfulness suite: questions asked as in the app (retrieval, the answer prompt, the support check), with
the configured model, measuring how much of what the answers assert their clauses bear out.

Dataset: JSONL with ``query`` (or ``question``) per line, optionally ``relevant: [{"doc", "article"}]`` — the dev
retrieval questions' format. Per question the answer is produced by :func:`assistant.qa.answer.stream_answer`
(audited as the evaluator's question). Reported: faithfulness (cited sentences supported / cited sentences),
conclusions supported, answers with any unverified sentence, 未找到依据, answers citing a relevant article, and times.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from assistant.qa.answer import LLM, NO_MATCH, Answer, ask
from comply.config import Settings
from comply.files.jsonl import read_jsonl
from comply.lawtext.citations import normalize_law_name
from comply.llm.protocol import ChatModel
from eval.stats import percentile

NEEDS_MODEL = "chat 套件需要大模型：请设置 COMPLY_LLM_URL（TGI / OpenAI 兼容服务）或安装内置模型"


def load_questions(path: Path) -> list[dict]:
    """``[{"id", "query", "relevant"}]`` from a JSONL file.

    Raises:
        ValueError: naming the line of an item without a question.
    """
    return read_jsonl(path, _question)


def _question(obj: dict, n: int) -> dict:
    query = str(obj.get("query") or obj.get("question") or "").strip()
    if not query:
        raise ValueError("需要 query（问题）")
    relevant = {(normalize_law_name(r["doc"]), r["article"]) for r in obj.get("relevant") or []}
    return {"id": str(obj.get("id", n)), "query": query, "relevant": relevant}


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _row(item: dict, answer: Answer) -> dict:
    cited = [c for c in answer.claims if c.supported is not None]
    used = {(normalize_law_name(c.doc_title or ""), c.article) for c in answer.citations if c.verified}
    return {
        "id": item["id"], "mode": answer.mode, "no_match": answer.answer == NO_MATCH, "cited": len(cited),
        "supported": sum(1 for c in cited if c.supported), "conclusion": None if answer.conclusion is None else answer.conclusion.supported,
        "relevant_cited": bool(item["relevant"] & used) if item["relevant"] else None,
        "ttft_s": answer.ttft_s, "total_s": round(answer.total_s, 3),
    }


def evaluate(settings: Settings, con: duckdb.DuckDBPyConnection, client: ChatModel, items: list[dict], clearance: int = 0) -> dict:
    """Ask every question with ``client`` and summarise the support check's outcomes."""
    rows = [_row(item, ask(settings, con, item["query"], client=client, clearance=clearance, user="eval")) for item in items]
    llm = [r for r in rows if r["mode"] == LLM]
    answered = [r for r in llm if not r["no_match"]]
    concluded = [r for r in answered if r["conclusion"] is not None]
    judged = [r for r in answered if r["relevant_cited"] is not None]
    ttft = [r["ttft_s"] for r in llm if r["ttft_s"] is not None]
    return {
        "n": len(rows), "model": client.model, "n_model_answers": len(llm), "n_answered": len(answered),
        "no_match_rate": _ratio(sum(r["no_match"] for r in llm), len(llm)),
        "faithfulness": _ratio(sum(r["supported"] for r in llm), sum(r["cited"] for r in llm)),
        "n_cited_sentences": sum(r["cited"] for r in llm),
        "conclusion_supported": _ratio(sum(bool(r["conclusion"]) for r in concluded), len(concluded)),
        "answers_with_unverified": _ratio(sum(r["supported"] < r["cited"] for r in answered), len(answered)),
        "relevant_cited": _ratio(sum(bool(r["relevant_cited"]) for r in judged), len(judged)),
        "ttft_p50_s": percentile(ttft, 50) if ttft else None,
        "total_p50_s": percentile([r["total_s"] for r in llm], 50) if llm else None,
        "latencies_s": [r["total_s"] for r in llm],
        "items": rows,
    }


def format_report(report: dict, dataset: str) -> str:
    """A plain-text summary of a chat report."""

    def pct(key: str) -> str:
        return "—" if report[key] is None else f"{report[key]:.3f}"

    ttft = "—" if report["ttft_p50_s"] is None else f"{report['ttft_p50_s']:.2f}"
    total = "—" if report["total_p50_s"] is None else f"{report['total_p50_s']:.2f}"
    return "\n".join([
        f"数据集：{dataset}（{report['n']} 题），模型：{report['model']}；大模型作答 {report['n_model_answers']} 题，给出回答 {report['n_answered']} 题",
        f"可信度（引用句得到所引条款支持）：{pct('faithfulness')}（共 {report['n_cited_sentences']} 句）",
        f"结论通过核验：{pct('conclusion_supported')}；含未核验语句的回答：{pct('answers_with_unverified')}；"
        f"未找到依据：{pct('no_match_rate')}；引用了标准条款：{pct('relevant_cited')}",
        f"首字 p50 {ttft} 秒，总用时 p50 {total} 秒",
    ])

