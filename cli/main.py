"""The ``comply`` command line: ingest, search, cases, docs, audit, eval, status — over the same functions as the app."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb

from assistant.qa.answer import NO_MATCH
from comply import audit
from comply.config import Settings, load_settings
from comply.db import connect
from comply.levels import LEVELS, level_name, level_rank


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _level(value: str) -> int:
    try:
        return level_rank(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from kb_ingest.ingest import default_sources, ingest

    con = connect(settings.db_path)
    paths = [Path(p) for p in args.paths] or default_sources(settings)
    report = ingest(settings, con, paths, level=args.level, actor=args.actor, progress=not args.json)
    if args.json:
        _print_json(report.as_dict())
    else:
        counts: dict[str, int] = {}
        for f in report.files:
            counts[f.status] = counts.get(f.status, 0) + 1
        for f in report.files:
            if f.status in ("error", "held"):
                print(f"[{'错误' if f.status == 'error' else '待审'}] {f.message}")
        print("汇总：" + "，".join(f"{k} {v}" for k, v in sorted(counts.items())))
        print(f"索引版本：v{report.index_version}" if report.index_version else "没有变化，索引保持不变")
    return 1 if report.errors else 0


def _hit_json(hit) -> dict:
    full = hit.as_json()
    return {k: full[k] for k in ("chunk_id", "doc_title", "article", "path", "text", "score", "level")}


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.search import Searcher

    searcher = Searcher(settings, connect(settings.db_path))
    if args.queries:
        for line in Path(args.queries).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                hits = searcher.search(item["query"], k=args.k, clearance=args.clearance, mode=args.mode)
                _print_json({"id": item.get("id"), "hits": [_hit_json(h) for h in hits]})
        return 0
    if not args.query:
        print("请给出查询语句，或用 --queries FILE.jsonl", file=sys.stderr)
        return 2
    hits = searcher.search(args.query, k=args.k, clearance=args.clearance, mode=args.mode)
    if args.json:
        _print_json({"query": args.query, "hits": [_hit_json(h) for h in hits]})
        return 0
    if not hits:
        print(NO_MATCH)
    for n, h in enumerate(hits, start=1):
        print(f"[{n}] {h.path}（{level_name(h.level)}，{h.match}，{h.score:.4f}）\n    {h.text[:160]}")
    return 0


def cmd_cases(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.search import Searcher

    searcher = Searcher(settings, connect(settings.db_path))
    hits = searcher.search_cases(args.query, k=args.k, clearance=args.clearance)
    if args.json:
        _print_json({"query": args.query, "cases": [h.as_json() for h in hits]})
        return 0
    if not hits:
        print("未找到相似案例")
    for h in hits:
        print(f"{h.case_id} {h.title}\n    {h.authority or ''} {h.date or ''} {h.measure_type or ''}：{h.snippet[:100]}")
    return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from kb_ingest import admin, listing

    con = connect(settings.db_path)
    if args.action == "list":
        keys = ("doc_id", "doc_key", "version", "level", "state", "n_chunks", "flags")
        rows = [{k: d[k] for k in keys} for d in listing.documents(con, [args.state] if args.state else [])]
        if args.json:
            _print_json(rows)
        for r in rows if not args.json else []:
            print(f"{r['doc_id']}  v{r['version']}  {r['state']:<8} {r['level']}  {r['n_chunks']:>4} 段  {r['doc_key']}")
        return 0
    try:
        if args.action == "approve":
            version = admin.approve(settings, con, args.doc_id, args.actor)
        elif args.action == "reject":
            admin.reject(con, args.doc_id, args.actor, args.reason or "")
            version = None
        elif args.action == "delete":
            version = admin.delete(settings, con, args.doc_id, args.actor)
        else:
            version = admin.set_level(settings, con, args.doc_id, _level(args.level), args.actor)
    except admin.AdminError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"完成{'，索引版本 v' + str(version) if version else ''}")
    return 0


def cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from kb_ingest.admin import reindex

    version = reindex(settings, connect(settings.db_path), args.actor)
    print(f"索引已重建：v{version}")
    return 0


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    con = connect(settings.db_path)
    if args.action == "verify":
        report = audit.verify(con)
        if args.json:
            _print_json(report.__dict__)
        elif report.ok:
            print(f"审计链完整：共 {report.rows} 条记录")
        else:
            print(f"审计链断裂：第一条异常记录 seq={report.first_broken_seq}，{report.reason}")
        return 0 if report.ok else 1
    rows = [{k: v for k, v in r.items() if k != "hash"} for r in audit.query(con, limit=args.limit)]
    if args.json:
        _print_json(rows)
    for r in rows if not args.json else []:
        print(f"{r['seq']:>6} {r['ts'][:19]} {r['actor']:<10} {r['action']:<14} {r['target'] or ''} {r['detail']}")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from kb_ingest.listing import status as kb_status

    status = kb_status(settings, connect(settings.db_path))
    if args.json:
        _print_json(status)
    else:
        for key, value in status.items():
            print(f"{key}: {value}")
    return 0


def _backend(settings: Settings, no_llm: bool, quiet: bool):
    from comply.llm.backend import open_backend

    return open_backend(settings.model_copy(update={"llm_mode": "off"}) if no_llm else settings, progress=not quiet)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.qa.answer import consume, stream_answer

    con = connect(settings.db_path)
    with _backend(settings, args.no_llm, args.json) as backend:
        if not args.json:
            print(f"大模型：{backend.label}\n", file=sys.stderr)
        gen = stream_answer(
            settings, con, args.question, client=backend.client, no_llm_reason=backend.reason,
            clearance=args.clearance, user=args.user,
        )
        answer = consume(gen, None if args.json else lambda piece: print(piece, end="", flush=True))
    if args.json:
        _print_json(answer.as_json())
        return 0
    print("\n")
    if answer.mode == "llm":
        print(f"核验后的回答：\n{answer.answer}\n")
    if answer.notice:
        print(f"注意：{answer.notice}")
    for c in answer.citations:
        mark = "✓ 已核验" if c.verified else "✗ 未通过核验，已移除"
        print(f"[{c.n}] {c.doc_title or '（无此条款）'} {c.article or ''}  {mark}")
    for case in answer.cases:
        print(f"相关案例：{case['case_id']} {case['title']}")
    ttft = f"首字 {answer.ttft_s:.2f} 秒，" if answer.ttft_s is not None else ""
    print(f"模式：{answer.mode}，模型：{answer.model or '无'}，{ttft}总计 {answer.total_s:.2f} 秒")
    return 0


def _review_lines(path: Path) -> list[dict]:
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError(f"{path} 第 {n} 行缺少 text 字段")
            items.append(item)
    return items


def _print_review(report, source: str) -> None:
    print(f"《{source}》审核结果（{'规则 + 大模型' if report.mode == 'llm' else '仅规则'}）：{len(report.findings)} 个问题，用时 {report.total_s:.2f} 秒")
    if report.notice:
        print(f"注意：{report.notice}")
    for n, f in enumerate(report.findings, start=1):
        basis = "；".join(f"{c.doc_title}{c.article or ''}" for c in f.citations) or "（知识库中无对应条款）"
        print(f"\n{n}. [{f.category}·{f.severity}] “{f.span}”（{f.start}–{f.end}）\n   原因：{f.explanation}\n   依据：{basis}\n   建议：{f.suggestion}")
        for case in f.cases:
            print(f"   相似案例：{case.case_id} {case.title}")
    if report.rewrite:
        print(f"\n改写稿（{report.rounds} 轮）：\n{report.rewrite}")


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    from review.inputs import DraftError, draft_from_text, read_draft
    from review.pipeline import Reviewer

    if bool(args.file) == bool(args.drafts):
        print("请给出一个文件（或 - 表示标准输入），或用 --drafts FILE.jsonl 批量审核", file=sys.stderr)
        return 2
    try:
        items = _review_lines(Path(args.drafts)) if args.drafts else None
        if items is None:
            draft = (draft_from_text(sys.stdin.read()) if args.file == "-"
                     else read_draft(Path(args.file).name, Path(args.file).read_bytes(), settings.max_file_mb))
    except (DraftError, ValueError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    con = connect(settings.db_path)
    with _backend(settings, args.no_llm, args.json) as backend:
        reviewer = Reviewer(settings, con, backend.client, backend.reason)
        if items is not None:
            for item in items:
                report = reviewer.review(item["text"], clearance=args.clearance, user=args.user, rewrite=False)
                _print_json(report.as_json(item.get("id")))
            return 0
        report = reviewer.review(draft.text, clearance=args.clearance, user=args.user)
    if args.json:
        _print_json({**report.as_json(draft.source), "notice": report.notice, "rewrite": report.rewrite, "dropped": report.dropped})
    else:
        _print_review(report, draft.source)
    return 0


def cmd_points(args: argparse.Namespace, settings: Settings) -> int:
    from review.audit_points import extract_audit_points, find_document, to_csv, to_docx, to_markdown

    con = connect(settings.db_path)
    try:
        _, title = find_document(con, args.document, args.clearance)
        points = extract_audit_points(con, args.document, args.clearance)
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    heading = f"《{title}》"
    if args.format == "docx":
        if not args.output:
            print("DOCX 需要用 --output 指定文件", file=sys.stderr)
            return 2
        Path(args.output).write_bytes(to_docx(points, heading))
    else:
        text = to_markdown(points, heading) if args.format == "md" else to_csv(points)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    if args.output:
        print(f"已导出 {len(points)} 条审核要点到 {args.output}", file=sys.stderr)
    return 0


def cmd_llm(args: argparse.Namespace, settings: Settings) -> int:
    with _backend(settings, False, args.json) as backend:
        info = backend.info
        status = {"backend": backend.label, "kind": info.kind if info else None, "url": info.url if info else None,
                  "model": backend.model, "healthy": bool(info and info.healthy), "reason": backend.reason}
    if args.json:
        _print_json(status)
    else:
        print(f"大模型：{backend.label}")
    return 0 if backend.client is not None else 1


_EVAL_MODES = {"review": ("rules", "baseline", "llm"), "retrieval": ("hybrid", "bm25", "dense"), "qa": ("retrieval", "closed"),
               "generation": ("llm", "template")}


def _eval_review(args: argparse.Namespace, settings: Settings) -> tuple[dict, str | None] | int:
    from eval.review import evaluate, load_dataset, rules_categories
    from review.baseline import apply_baseline
    from review.pipeline import Reviewer
    from review.rules import load_default_rules

    drafts = load_dataset(Path(args.dataset))
    rules = load_default_rules(settings)
    reports, model = {}, None
    for mode in args.mode:
        if mode == "baseline":
            reports[mode] = evaluate(drafts, lambda text: apply_baseline(text, rules), rules_categories(rules))
            continue
        with _backend(settings, mode == "rules", True) as backend:
            if mode == "llm" and backend.client is None:
                print(f"无法评测 llm 模式：{backend.reason}", file=sys.stderr)
                return 1
            model = backend.model if mode == "llm" else model
            reviewer = Reviewer(settings, connect(settings.db_path), backend.client, backend.reason)
            reports[mode] = evaluate(drafts, lambda text: reviewer.review(text, user="eval", rewrite=False).findings, rules_categories(rules))
    return {"dataset": args.dataset, "modes": reports}, model


def _eval_qa(args: argparse.Namespace, settings: Settings) -> tuple[dict, str | None] | int:
    from eval.qa import NEEDS_MODEL, evaluate, load_dataset
    from retrieval.search import Searcher

    items = load_dataset(Path(args.dataset))
    with _backend(settings, False, True) as backend:
        if backend.client is None:
            print(f"{NEEDS_MODEL}（{backend.reason}）", file=sys.stderr)
            return 1
        searcher = Searcher(settings, connect(settings.db_path)) if "retrieval" in args.mode else None
        report = evaluate(backend.client, searcher, items, settings, tuple(args.mode), clearance=args.clearance)
    return report, report["model"]


def _eval_generation(args: argparse.Namespace, settings: Settings) -> tuple[dict, str | None] | int:
    from assistant.generate.loop import Loop
    from eval.generation import evaluate, load_dataset
    from review.pipeline import Reviewer

    if len(args.mode) != 1:
        print("generation 每次只评测一种 --mode：llm 或 template", file=sys.stderr)
        return 2
    items = load_dataset(Path(args.dataset))
    with _backend(settings, args.mode[0] == "template", True) as backend:
        if args.mode[0] == "llm" and backend.client is None:
            print(f"无法评测 llm 模式：{backend.reason}（用 --mode template 评测模板生成）", file=sys.stderr)
            return 1
        loop = Loop(Reviewer(settings, connect(settings.db_path), backend.client, backend.reason), backend.client, backend.reason)
        report = evaluate(loop, items, max_rounds=settings.generate_rounds)
    return report, backend.model


def _eval_text(suite: str, report: dict, dataset: str) -> str:
    if suite == "generation":
        from eval.generation import format_report as generation_report

        return generation_report(report, dataset)
    if suite == "review":
        from eval.review import format_report

        return "\n".join(format_report(r, f"mode: {mode}   dataset: {dataset}   drafts: {r['n_drafts']} (clean {r['n_clean']})") + "\n"
                         for mode, r in report["modes"].items())
    if suite == "cases":
        from eval.cases import format_report as cases_report

        return cases_report(report, dataset)
    if suite == "qa":
        from eval.qa import format_report as qa_report

        return qa_report(report, dataset)
    keys = ("hit@1", "hit@5", "hit@10", "mrr", "ndcg@10")
    lines = [f"数据集：{dataset}（{report['n']} 题）", f"{'mode':<8}" + "".join(f"{m:>10}" for m in keys) + f"{'p50 ms':>10}{'p95 ms':>10}"]
    lines += [f"{mode:<8}" + "".join(f"{r['overall'][m]:>10.3f}" for m in keys)
              + f"{r['latency_ms']['p50']:>10.1f}{r['latency_ms']['p95']:>10.1f}" for mode, r in report["modes"].items()]
    return "\n".join(lines)


def _eval_stored(args: argparse.Namespace, settings: Settings) -> int:
    from eval.report import compare, write_comparison
    from eval.runs import get_run, list_runs

    con = connect(settings.db_path)
    if args.suite == "runs":
        runs = list_runs(con, limit=args.limit)
        if args.json:
            _print_json([r.as_json(with_metrics=False) for r in runs])
        elif not runs:
            print("还没有保存的评测记录（评测时加 --save）")
        for r in runs if not args.json else []:
            print(f"{r.run_id}  {r.suite:<9} {r.created_at:%Y-%m-%d %H:%M}  {(r.git_commit or '-')[:10]:<10} {r.model or '-'}  {r.dataset_path}")
        return 0
    if len(args.run_ids) != 2:
        print("compare 需要两个评测记录编号：comply eval compare RUN_A RUN_B", file=sys.stderr)
        return 2
    runs = [get_run(con, run_id) for run_id in args.run_ids]
    for run_id, run in zip(args.run_ids, runs):
        if run is None:
            print(f"未找到评测记录 {run_id}（或编号前缀不唯一）", file=sys.stderr)
            return 1
    comparison = compare(runs[0], runs[1])
    if args.json:
        _print_json({"a": runs[0].run_id, "b": runs[1].run_id, "notes": comparison.notes,
                     "rows": [{"metric": k, "a": va, "b": vb, "delta": d} for k, va, vb, d in comparison.rows]})
    else:
        print(comparison.markdown())
    if args.report:
        for path in write_comparison(comparison, Path(args.report)):
            print(f"已写入 {path}", file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from eval.runs import new_run, save_run, settings_config

    if args.suite in ("runs", "compare"):
        return _eval_stored(args, settings)
    if not args.dataset:
        print(f"评测 {args.suite} 需要 --dataset 数据集路径", file=sys.stderr)
        return 2
    allowed = _EVAL_MODES.get(args.suite, ())
    if args.mode and any(m not in allowed for m in args.mode):
        print(f"{args.suite} 的 --mode 只能取：{' '.join(allowed) or '（无）'}", file=sys.stderr)
        return 2
    args.mode = args.mode or {"review": ["rules", "baseline"], "retrieval": list(allowed), "qa": list(allowed),
                              "generation": ["llm"]}.get(args.suite, [])
    try:
        if args.suite == "review":
            outcome = _eval_review(args, settings)
        elif args.suite == "qa":
            outcome = _eval_qa(args, settings)
        elif args.suite == "generation":
            outcome = _eval_generation(args, settings)
        else:
            outcome = (_eval_search(args, settings), None)
    except ValueError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    if isinstance(outcome, int):
        return outcome
    report, model = outcome
    run_id = None
    if args.save or args.report:
        con = connect(settings.db_path)
        run = new_run(args.suite, report, Path(args.dataset), settings_config(settings, args.suite, con), model)
        if args.save:
            run_id = save_run(con, run)
        if args.report:
            from eval.report import write_report

            for path in write_report(run, Path(args.report)):
                print(f"已写入 {path}", file=sys.stderr)
    if args.json:
        _print_json({**report, "run_id": run_id} if run_id else report)
    else:
        print(_eval_text(args.suite, report, args.dataset))
        if run_id:
            print(f"评测记录已保存：{run_id}")
    return 0


def _eval_search(args: argparse.Namespace, settings: Settings) -> dict:
    from retrieval.search import Searcher

    searcher = Searcher(settings, connect(settings.db_path))
    if args.suite == "cases":
        from eval.cases import evaluate as evaluate_cases
        from eval.cases import load_dataset as load_cases

        return evaluate_cases(searcher, load_cases(Path(args.dataset)), clearance=args.clearance)
    from eval.retrieval import evaluate, load_dataset

    return evaluate(searcher, load_dataset(Path(args.dataset)), modes=tuple(args.mode), clearance=args.clearance)


def cmd_bench(argv: list[str]) -> int:
    """``comply bench …``: hand the remaining arguments to ``eval.bench.main``."""
    try:
        from eval.bench import main as bench_main
    except ImportError as exc:
        print(f"基准测试模块不可用：{exc}", file=sys.stderr)
        return 1
    return bench_main(argv)


def _read_password(args: argparse.Namespace) -> str:
    """The new password: the first line of stdin with --password-stdin, otherwise typed twice (not echoed)."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("密码（至少 8 个字符）：")
    if getpass.getpass("再次输入密码：") != first:
        raise ValueError("两次输入的密码不一致")
    return first


def cmd_users(args: argparse.Namespace, settings: Settings) -> int:
    from assistant import accounts as users

    con = connect(settings.db_path)
    try:
        if args.users_action == "list":
            rows = [{"username": u.username, "display_name": u.display_name, "role": u.role, "role_name": u.role_name,
                     "clearance": level_name(u.clearance), "disabled": u.disabled} for u in users.list_users(con)]
            if args.json:
                _print_json(rows)
            elif not rows:
                print("还没有用户。创建第一个管理员：comply users add admin --role admin --clearance 秘密")
            for r in rows if not args.json else []:
                state = "已停用" if r["disabled"] else "启用"
                print(f"{r['username']:<20} {r['display_name']:<12} {r['role_name']:<4} {r['clearance']}  {state}")
            return 0
        if args.users_action == "add":
            if users.get_user(con, args.username) is not None:
                raise ValueError(f"用户名 {args.username} 已存在")
            user = users.create_user(con, args.username, _read_password(args), args.role, args.clearance,
                                     display_name=args.name or "", actor=args.actor)
            print(f"已创建用户 {user.username}（{user.display_name}，{user.role_name}，密级 {level_name(user.clearance)}）")
            return 0
        if args.users_action == "passwd":
            if users.get_user(con, args.username) is None:
                raise ValueError(f"用户 {args.username} 不存在")
            users.set_password(con, args.username, _read_password(args), actor=args.actor)
            print(f"已为用户 {args.username} 设置新密码")
            return 0
        disabled = True if args.disable else False if args.enable else None
        if args.oidc_email is not None:
            users.link_oidc(con, args.username, args.oidc_email or None, actor=args.actor)
            print(f"已{'关联' if args.oidc_email else '解除'}用户 {args.username} 的单点登录邮箱 {args.oidc_email}")
            if args.role is None and args.clearance is None and disabled is None and args.name is None:
                return 0
        if args.role is None and args.clearance is None and disabled is None and args.name is None:
            print("没有要修改的内容：请给出 --role / --clearance / --disable / --enable / --name / --oidc-email", file=sys.stderr)
            return 2
        user = users.update_user(con, args.username, role=args.role, clearance=args.clearance, disabled=disabled,
                                 display_name=args.name, actor=args.actor)
        state = "已停用" if user.disabled else "启用"
        print(f"已更新用户 {user.username}（{user.display_name}，{user.role_name}，密级 {level_name(user.clearance)}，{state}）")
        return 0
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except (EOFError, KeyboardInterrupt):
        print("\n已取消", file=sys.stderr)
        return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    parser = argparse.ArgumentParser(prog="comply", description="合规智能助手命令行")
    sub = parser.add_subparsers(dest="command", required=True)
    levels = " / ".join(LEVELS)

    p = sub.add_parser("ingest", help="导入法规、制度文件或案例 JSONL（默认导入默认语料）")
    p.add_argument("paths", nargs="*", help="文件或目录；省略时导入默认语料")
    p.add_argument("--level", type=_level, default=0, help=f"密级：{levels}（默认 公开）")
    p.add_argument("--actor", default="cli", help="记入审计日志的操作人")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="检索条款")
    p.add_argument("query", nargs="?")
    p.add_argument("--queries", help="批量：JSONL，每行 {\"id\", \"query\"}")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--clearance", type=_level, default=0, help=f"调用者密级：{levels}（默认 公开）")
    p.add_argument("--mode", choices=("hybrid", "bm25", "dense"), default="hybrid")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("cases", help="检索相似处罚案例")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--clearance", type=_level, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cases)

    p = sub.add_parser("docs", help="文档管理：list / approve / reject / delete / level")
    p.add_argument("action", choices=("list", "approve", "reject", "delete", "level"))
    p.add_argument("doc_id", nargs="?")
    p.add_argument("level", nargs="?", help="用于 level：新密级")
    p.add_argument("--state", help="用于 list：按状态过滤（live / held / replaced / deleted / rejected）")
    p.add_argument("--reason", help="用于 reject：驳回原因")
    p.add_argument("--actor", default="cli")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("reindex", help="按数据库现状重建索引")
    p.add_argument("--actor", default="cli")
    p.set_defaults(func=cmd_reindex)

    p = sub.add_parser("audit", help="审计日志：verify 校验哈希链，log 查看最近记录")
    p.add_argument("action", choices=("verify", "log"))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("status", help="知识库与索引状态")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("ask", help="合规问答：依据检索到的条款作答并核验引用")
    p.add_argument("question")
    p.add_argument("--clearance", type=_level, default=0, help=f"提问者密级：{levels}（默认 公开）")
    p.add_argument("--user", default="cli", help="记入审计日志的提问人")
    p.add_argument("--no-llm", action="store_true", help="不调用大模型，只给出检索到的条款")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("review", help="营销文案合规审核：问题片段、类别、依据条款、改写建议、相似案例")
    p.add_argument("file", nargs="?", help="TXT / DOCX / PDF / 图片文件，- 表示从标准输入读取")
    p.add_argument("--drafts", help="批量：JSONL，每行 {\"id\", \"text\"}，每行输出一个 JSON")
    p.add_argument("--clearance", type=_level, default=0, help=f"审核人密级：{levels}（默认 公开）")
    p.add_argument("--user", default="cli", help="记入审计日志的审核人")
    p.add_argument("--no-llm", action="store_true", help="只用规则审核")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_review)

    from cli.generate import add_parser as add_generate

    add_generate(sub, _level)

    from cli.clients import add_parser as add_clients

    add_clients(sub)

    p = sub.add_parser("points", help="从一部法规中提取审核要点（义务与禁止），导出清单")
    p.add_argument("document", help="文档 id 或标题（可省略“中华人民共和国”）")
    p.add_argument("--clearance", type=_level, default=0)
    p.add_argument("--format", choices=("md", "csv", "docx"), default="md")
    p.add_argument("--output", "-o", help="输出文件；md / csv 省略时打印到标准输出")
    p.set_defaults(func=cmd_points)

    p = sub.add_parser("llm", help="查看大模型后端（TGI / OpenAI 兼容服务 / 内置模型）是否可用")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_llm)

    p = sub.add_parser("eval", help="评测套件：retrieval / review / cases / qa / generation；runs 列出记录，compare 对比两次记录")
    p.add_argument("suite", choices=("retrieval", "review", "cases", "qa", "generation", "runs", "compare"))
    p.add_argument("run_ids", nargs="*", help="用于 compare：两个评测记录编号（或唯一前缀）")
    p.add_argument("--dataset", help="数据集路径（JSONL，格式同 shared/eval/dev 下对应文件）")
    p.add_argument("--mode", nargs="+", help="review：rules baseline llm；retrieval：hybrid bm25 dense；qa：retrieval closed；generation：llm 或 template")
    p.add_argument("--clearance", type=_level, default=len(LEVELS) - 1)
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", action="store_true", help="把结果保存到数据库并打印记录编号")
    p.add_argument("--report", metavar="DIR", help="把报告（JSON、Markdown、HTML）写到该目录")
    p.add_argument("--limit", type=int, default=50, help="用于 runs：最多列出多少条")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="性能基准测试（参数原样交给 eval.bench）", add_help=False)
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=lambda args, settings: cmd_bench(args.bench_args))

    p = sub.add_parser("users", help="用户管理：add 新建 / list 列出 / update 修改 / passwd 设置密码")
    p.set_defaults(func=cmd_users)
    users_sub = p.add_subparsers(dest="users_action", required=True)
    roles = " / ".join(("admin", "compliance", "marketer", "evaluator"))
    u = users_sub.add_parser("add", help="新建用户（密码不写在命令行上：提示输入两次，或用 --password-stdin）")
    u.add_argument("username", help="用户名：2–32 位字母、数字或 _ . -")
    u.add_argument("--role", required=True, choices=("admin", "compliance", "marketer", "evaluator"),
                   help=f"角色：{roles}（管理员 / 合规 / 营销 / 评测）")
    u.add_argument("--clearance", type=_level, required=True, help=f"密级：{levels}")
    u.add_argument("--name", help="显示名（默认同用户名）")
    u.add_argument("--password-stdin", action="store_true", help="从标准输入的第一行读取密码")
    u.add_argument("--actor", default="cli", help="记入审计日志的操作人")
    u = users_sub.add_parser("list", help="列出用户")
    u.add_argument("--json", action="store_true")
    u = users_sub.add_parser("update", help="修改用户的角色、密级、显示名，或停用 / 启用")
    u.add_argument("username")
    u.add_argument("--role", choices=("admin", "compliance", "marketer", "evaluator"), help=f"新角色：{roles}")
    u.add_argument("--clearance", type=_level, help=f"新密级：{levels}")
    u.add_argument("--name", help="新显示名")
    state = u.add_mutually_exclusive_group()
    state.add_argument("--disable", action="store_true", help="停用（不能再登录）")
    state.add_argument("--enable", action="store_true", help="重新启用")
    u.add_argument("--oidc-email", help="单点登录（OIDC）时身份提供方给出的邮箱；空字符串表示解除关联")
    u.add_argument("--actor", default="cli", help="记入审计日志的操作人")
    u = users_sub.add_parser("passwd", help="设置用户的新密码（并清除失败登录记录）")
    u.add_argument("username")
    u.add_argument("--password-stdin", action="store_true", help="从标准输入的第一行读取密码")
    u.add_argument("--actor", default="cli", help="记入审计日志的操作人")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``comply`` script."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "docs" and args.action != "list" and not args.doc_id:
        print("需要 doc_id", file=sys.stderr)
        return 2
    if args.command == "docs" and args.action == "level" and not args.level:
        print("需要新密级", file=sys.stderr)
        return 2
    from retrieval.search import NoIndexError

    settings = load_settings()
    try:
        return args.func(args, settings)
    except (NoIndexError, FileNotFoundError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except duckdb.IOException as exc:
        print(f"无法打开数据库 {settings.db_path}（可能正被运行中的应用占用，请先停止应用）：{exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
