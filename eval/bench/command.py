"""``comply bench``: options, running the selected measures, and writing ``bench.json`` and ``bench.md``."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from comply.config import load_settings
from eval.bench.jobs_llm import CONCURRENCY, DEFAULT_DRAFTS, bench_jobs
from eval.bench.report import markdown
from eval.bench.timing import machine, stage

MEASURES = ("ingest", "embed", "search", "review", "review-llm", "llm", "qa", "baseline", "api", "jobs")
DEFAULT_MEASURES = ("ingest", "search", "review", "baseline")
BASELINE_MAX_ROWS = 100_000


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="comply bench", description="性能基准：入库吞吐、嵌入后端（torch 与 ONNX）、检索延迟（合成扩容）、审核与大模型延迟、问答首字与整答延迟、LangChain 对照、接口负载、批量审核任务吞吐")
    p.add_argument("targets", nargs="*", metavar="MEASURE", help="measures to run, instead of --only (e.g. comply bench api)")
    p.add_argument("--only", default=",".join(DEFAULT_MEASURES), help=f"comma-separated subset of {','.join(MEASURES)}")
    p.add_argument("--scales", default="10000,100000", help="row counts for the synthetic scale-up (1000000 is optional)")
    p.add_argument("--queries", type=int, default=0, help="use only the first N dev questions (0: all)")
    p.add_argument("--data", type=Path, default=None, help="existing data dir to search (default: fresh ingest, else COMPLY_DATA)")
    p.add_argument("--skip-ingest", action="store_true", help="do not ingest; use the existing data dir")
    p.add_argument("--llm", action="store_true", help="also time one grounded question with the configured LLM")
    p.add_argument("--review-drafts", type=int, default=10,
                   help="review-llm: time the first N shipped dev drafts of 300-500 characters")
    p.add_argument("--qa-questions", type=int, default=10,
                   help="qa: time chat answers to the N dev questions after a warm-up question")
    p.add_argument("--baseline-max-rows", type=int, default=BASELINE_MAX_ROWS,
                   help="build the LangChain ensemble only at scales up to this many rows (its BM25 scores every row in Python)")
    p.add_argument("--clients", type=int, default=50, help="api: concurrent clients searching through the service")
    p.add_argument("--seconds", type=float, default=60.0, help="api: how long the clients search")
    p.add_argument("--drafts", type=int, default=DEFAULT_DRAFTS, help="jobs: drafts in each timed batch-review job")
    p.add_argument("--concurrency", default=",".join(map(str, CONCURRENCY)),
                   help="jobs: comma-separated job worker counts (COMPLY_SERVICE_WORKERS), one service run each")
    p.add_argument("--no-gpu", action="store_true", help="do not run dense search on the GPU even when faiss sees one")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for bench.json and bench.md")
    args = p.parse_args(argv)
    args.only = args.targets or [m.strip() for m in args.only.split(",") if m.strip()]
    bad = [m for m in args.only if m not in MEASURES]
    if bad:
        p.error(f"unknown measure(s) {', '.join(bad)}; choose from {', '.join(MEASURES)}")
    if args.review_drafts < 1:
        p.error("--review-drafts 须为正整数")
    if args.qa_questions < 1:
        p.error("--qa-questions 须为正整数")
    if args.clients < 1 or args.seconds <= 0:
        p.error("--clients 须为正整数，--seconds 须为正数")
    try:
        args.concurrency = [int(n) for n in args.concurrency.split(",") if n.strip()]
    except ValueError:
        p.error("--concurrency 须为逗号分隔的正整数")
    if args.drafts < 1 or not args.concurrency or min(args.concurrency) < 1:
        p.error("--drafts 须为正整数，--concurrency 须为逗号分隔的正整数")
    if args.llm and "llm" not in args.only:
        args.only.append("llm")
    try:
        args.scales = [int(s.replace("_", "")) for s in args.scales.split(",") if s.strip()]
    except ValueError:
        p.error("--scales takes comma-separated integers")
    return args


def run(args: argparse.Namespace) -> dict:
    """Run the selected measures; returns the JSON report."""
    from comply.db import connect
    from eval.bench.api_load import bench_api
    from eval.bench.baseline import bench_baseline
    from eval.bench.embed import bench_embed
    from eval.bench.measures import bench_ingest, bench_llm, bench_review, bench_search, dev_questions
    from eval.bench.qa_latency import bench_qa_latency
    from eval.bench.review_llm import bench_review_llm
    from eval.bench.synthetic import load_real_chunks, tokenize_sentences

    settings = load_settings(**({"data_dir": args.data} if args.data else {}))
    host = machine()
    report: dict = {"machine": host, "measures": args.only, "scales": args.scales,
                    "notes": {"synthetic": "rows beyond the real chunk count are synthetic replicas",
                              "gpu": "measured" if not args.no_gpu and host["faiss_gpus"] else "GPU 未测量"}}
    tmp = Path(tempfile.mkdtemp(prefix="comply-bench-"))
    try:
        if "ingest" in args.only and not args.skip_ingest:
            with stage(report, "ingest"):
                report["ingest"] = bench_ingest(settings, tmp / "data")
            if not args.data:
                settings = load_settings(data_dir=tmp / "data", corpus_dir=settings.corpus_dir, audit_key_file=tmp / "audit.key")
        if "api" in args.only:  # before this process opens the database: the service under test must own it
            with stage(report, "api"):
                report["api"] = bench_api(settings, [i.query for i in dev_questions(settings, args.queries)],
                                          args.clients, args.seconds)
        if "jobs" in args.only:  # likewise: each service run owns the database
            with stage(report, "jobs"):
                report["jobs"] = bench_jobs(settings, args.drafts, args.concurrency)
        if "qa" in args.only:  # opens and closes the database itself, so it needs none of the loading below
            with stage(report, "qa"):
                report["qa"] = bench_qa_latency(settings, args.qa_questions)
        if not any(m in args.only for m in ("embed", "search", "review", "review-llm", "llm", "baseline")):
            return report
        con = connect(settings.db_path)
        with stage(report, "load"):
            real = load_real_chunks(settings, con)
            tokenize_sentences(real)
        if "ingest" in args.only and args.skip_ingest:
            report["ingest"] = {"skipped": True, "chunks": len(real.ids), "data_dir": str(settings.data_dir)}
        items = dev_questions(settings, args.queries)
        if "embed" in args.only:
            with stage(report, "embed"):
                report["embed"] = bench_embed(settings, real, [i.query for i in items])
        if "search" in args.only:
            with stage(report, "search"):
                report["search"] = bench_search(settings, con, real, args.scales, [i.query for i in items],
                                                args.baseline_max_rows if "baseline" in args.only else 0, not args.no_gpu)
        if "baseline" in args.only:
            with stage(report, "baseline"):
                report["baseline"] = bench_baseline(settings, con, real, items)
        if "review" in args.only:
            with stage(report, "review"):
                report["review"] = bench_review(settings, con, args.queries)
        if "review-llm" in args.only:
            with stage(report, "review-llm"):
                report["review-llm"] = bench_review_llm(settings, con, args.review_drafts)
        if "llm" in args.only:
            with stage(report, "llm"):
                report["llm"] = bench_llm(settings, con, items[0].query)
        return report
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """``comply bench``: run, write ``bench.json`` and ``bench.md`` under ``--out``, print the Markdown."""
    args = parse_args(argv)
    try:
        report = run(args)
    except Exception as exc:  # a benchmark run reports what failed instead of a traceback
        from eval.bench.api_load import ServiceFailed
        from retrieval.search import NoIndexError

        if isinstance(exc, (NoIndexError, FileNotFoundError, ServiceFailed)):
            print(f"错误：{exc}", file=sys.stderr)
            return 1
        raise
    args.out.mkdir(parents=True, exist_ok=True)
    text = markdown(report)
    (args.out / "bench.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    (args.out / "bench.md").write_text(text, encoding="utf-8")
    print(text)
    return 0

