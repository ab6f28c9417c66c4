"""``comply eval`` (the suites, stored runs and their comparison) and ``comply bench`` (passed through to ``eval.bench``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli.common import LEVEL, LEVEL_NAMES, Command, current_settings, error, open_llm, print_json, print_table
from comply.db import connect

if TYPE_CHECKING:
    import duckdb

    from comply.config import Settings

_SUITES = ("retrieval", "review", "cases", "qa", "chat", "generation")
_MODES = {"review": ("rules", "learned", "baseline", "llm"), "retrieval": ("hybrid", "bm25", "dense"), "qa": ("retrieval", "closed"),
          "generation": ("llm", "template")}
_DEFAULT_MODES = {"review": ("rules", "learned", "baseline"), "retrieval": _MODES["retrieval"], "qa": _MODES["qa"], "generation": ("llm",)}
# What a suite yields: its report and the model it used, or the exit code of a failure already explained on stderr.
_Outcome = tuple[dict, str | None] | int


class _SpreadModes(Command):
    """Takes ``--mode a b c`` (every value up to the next option) as ``--mode a --mode b --mode c``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        spread: list[str] = []
        in_modes = False
        for n, arg in enumerate(args):
            if arg == "--":
                spread += args[n:]
                break
            if in_modes and not arg.startswith("-"):
                spread += [arg] if spread[-1] == "--mode" else ["--mode", arg]
                continue
            in_modes = arg == "--mode"
            spread.append(arg)
        return super().parse_args(ctx, spread)


class _PassThrough(Command):
    """Hands every argument, untouched (``--help`` included), to its callback as ``argv``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.params["argv"] = list(args)
        return []


def _review(settings: Settings, dataset: str, modes: list[str], clearance: int, labelled_genre: bool) -> _Outcome:
    from eval.review import check_genres, evaluate, evaluate_drafts, load_dataset, rules_categories
    from review.baseline import apply_baseline
    from review.genre import AUTO, load_genres
    from review.pipeline import Reviewer
    from review.rules import load_default_rules

    drafts = load_dataset(Path(dataset))
    if labelled_genre:
        check_genres(drafts, load_genres(settings.genres_file))
    rules = load_default_rules(settings)
    categories = rules_categories(rules)
    reports, model = {}, None
    for mode in modes:
        if mode == "baseline":
            reports[mode] = evaluate(drafts, lambda text: apply_baseline(text, rules), categories)
            continue
        with open_llm(settings, mode != "llm", True) as backend:
            if mode == "llm" and backend.client is None:
                return error(f"无法评测 llm 模式：{backend.reason}")
            model = backend.model if mode == "llm" else model
            # rules: the rules stage alone; learned: rules + learned stage; llm: as configured, plus the model stage
            staged = settings.model_copy(update={"review_learned": mode == "learned"}) if mode != "llm" else settings
            reviewer = Reviewer(staged, connect(settings.db_path), backend.client, backend.reason)
            if mode == "learned" and reviewer.learned.model is None:
                return error(f"无法评测 learned 模式：{reviewer.learned.problem}")
            if reviewer.learned.model is not None:
                _warn_if_trained_on(reviewer.con, drafts)
            reports[mode] = evaluate_drafts(
                drafts, lambda d, r=reviewer: r.review(d.text, clearance=clearance, user="eval", rewrite=False,
                                                       genre=d.genre if labelled_genre else AUTO), categories)
    return {"dataset": dataset, "genre": "labelled" if labelled_genre else AUTO, "modes": reports}, model


def _warn_if_trained_on(con: duckdb.DuckDBPyConnection, drafts: list) -> None:
    """Say on stderr how many of the dataset's drafts the learned model was trained on (their scores flatter it)."""
    from review.library import text_sha256

    known = {row[0] for row in con.execute("SELECT text_sha256 FROM review_library_drafts").fetchall()}
    seen = sum(text_sha256(d.text) in known for d in drafts)
    if seen:
        click.echo(f"注意：数据集中 {seen}/{len(drafts)} 篇文案在审核样本库中（学习模型训练过），学习模型对这些文案的得分偏高", err=True)


def _qa(settings: Settings, dataset: str, modes: list[str], clearance: int, size: int | None, seed: int) -> _Outcome:
    from eval.qa import NEEDS_MODEL, evaluate, load_dataset, sample
    from retrieval.search import Searcher

    every = load_dataset(Path(dataset))
    items = sample(every, size, seed)
    with open_llm(settings, False, True) as backend:
        if backend.client is None:
            return error(f"{NEEDS_MODEL}（{backend.reason}）")
        searcher = Searcher(settings, connect(settings.db_path)) if "retrieval" in modes else None
        report = evaluate(backend.client, searcher, items, settings, tuple(modes), clearance=clearance)
    if len(items) < len(every):
        report["sample"] = {"seed": seed, "of": len(every)}
    return report, report["model"]


def _chat(settings: Settings, dataset: str, clearance: int, size: int | None, seed: int) -> _Outcome:
    from eval.chat import NEEDS_MODEL, evaluate, load_questions
    from eval.qa import sample

    every = load_questions(Path(dataset))
    items = sample(every, size, seed)
    with open_llm(settings, False, True) as backend:
        if backend.client is None:
            return error(f"{NEEDS_MODEL}（{backend.reason}）")
        report = evaluate(settings, connect(settings.db_path), backend.client, items, clearance=clearance)
    if len(items) < len(every):
        report["sample"] = {"seed": seed, "of": len(every)}
    return report, report["model"]


def _generation(settings: Settings, dataset: str, modes: list[str]) -> _Outcome:
    from assistant.generate.loop import Loop
    from eval.generation import evaluate, load_dataset
    from review.pipeline import Reviewer

    if len(modes) != 1:
        return error("generation 每次只评测一种 --mode：llm 或 template", 2)
    items = load_dataset(Path(dataset))
    with open_llm(settings, modes[0] == "template", True) as backend:
        if modes[0] == "llm" and backend.client is None:
            return error(f"无法评测 llm 模式：{backend.reason}（用 --mode template 评测模板生成）")
        loop = Loop(Reviewer(settings, connect(settings.db_path), backend.client, backend.reason), backend.client, backend.reason)
        report = evaluate(loop, items, max_rounds=settings.generate_rounds)
    return report, backend.model


def _search(settings: Settings, suite: str, dataset: str, modes: list[str], clearance: int) -> dict:
    from retrieval.search import Searcher

    searcher = Searcher(settings, connect(settings.db_path))
    if suite == "cases":
        from eval.cases import evaluate as evaluate_cases
        from eval.cases import load_dataset as load_cases

        return evaluate_cases(searcher, load_cases(Path(dataset)), clearance=clearance)
    from eval.retrieval import evaluate, load_dataset

    return evaluate(searcher, load_dataset(Path(dataset)), modes=tuple(modes), clearance=clearance)


def _print_report(suite: str, report: dict[str, Any], dataset: str) -> None:
    if suite == "generation":
        from eval.generation import format_report as generation_report

        click.echo(generation_report(report, dataset))
    elif suite == "review":
        from eval.review import format_side_by_side

        first = next(iter(report["modes"].values()))
        genre = "按数据集标注" if report["genre"] == "labelled" else "自动识别"
        click.echo(format_side_by_side(report["modes"], f"方式：{' / '.join(report['modes'])}   数据集：{dataset}   "
                                                        f"文案：{first['n_drafts']} 篇（干净 {first['n_clean']}）   体裁：{genre}") + "\n")
    elif suite == "cases":
        from eval.cases import format_report as cases_report

        click.echo(cases_report(report, dataset))
    elif suite == "chat":
        from eval.chat import format_report as chat_report

        click.echo(chat_report(report, dataset))
    elif suite == "qa":
        from eval.qa import format_report as qa_report

        click.echo(qa_report(report, dataset))
    else:
        from eval.retrieval import format_report as retrieval_report

        click.echo(retrieval_report(report, dataset))


def _runs(limit: int, as_json: bool) -> int:
    from eval.runs import list_runs

    runs = list_runs(connect(current_settings().db_path), limit=limit)
    if as_json:
        print_json([r.as_json(with_metrics=False) for r in runs])
    elif not runs:
        click.echo("还没有保存的评测记录（评测时加 --save）")
    else:
        print_table(["编号", "套件", "时间", "提交", "模型", "数据集"],
                    [[r.run_id, r.suite, f"{r.created_at:%Y-%m-%d %H:%M}", (r.git_commit or "-")[:10], r.model or "-", r.dataset_path]
                     for r in runs])
    return 0


def _compare(run_ids: tuple[str, ...], report_dir: str | None, as_json: bool) -> int:
    from eval.report import compare, write_comparison
    from eval.runs import get_run

    if len(run_ids) != 2:
        return error("compare 需要两个评测记录编号：comply eval compare RUN_A RUN_B", 2)
    con = connect(current_settings().db_path)
    runs = [get_run(con, run_id) for run_id in run_ids]
    for run_id, run in zip(run_ids, runs, strict=True):
        if run is None:
            return error(f"未找到评测记录 {run_id}（或编号前缀不唯一）")
    comparison = compare(runs[0], runs[1])
    if as_json:
        print_json({"a": runs[0].run_id, "b": runs[1].run_id, "notes": comparison.notes,
                    "rows": [{"metric": k, "a": va, "b": vb, "delta": d} for k, va, vb, d in comparison.rows]})
    else:
        click.echo(comparison.markdown())
    if report_dir:
        for path in write_comparison(comparison, Path(report_dir)):
            click.echo(f"已写入 {path}", err=True)
    return 0


@click.command("eval", cls=_SpreadModes,
               help="评测套件：retrieval / review / cases / qa / chat（问答可信度）/ generation；runs 列出记录，compare 对比两次记录\n\n"
                    "RUN_IDS：用于 compare，两个评测记录编号（或唯一前缀）")
@click.argument("suite", type=click.Choice((*_SUITES, "runs", "compare")))
@click.argument("run_ids", nargs=-1)
@click.option("--dataset", help="数据集路径（JSONL，格式同 shared/eval/dev 下对应文件）")
@click.option("--mode", multiple=True, metavar="MODE...",
              help="review：rules（仅规则）learned（规则+学习模型）baseline llm（再加大模型）；retrieval：hybrid bm25 dense；qa：retrieval closed；generation：llm 或 template")
@click.option("--clearance", type=LEVEL, default=0, help=f"评测者密级：{LEVEL_NAMES}（默认 公开）")
@click.option("--json", "as_json", is_flag=True)
@click.option("--save", is_flag=True, help="把结果保存到数据库并打印记录编号")
@click.option("--report", "report_dir", metavar="DIR", help="把报告（JSON、Markdown、HTML）写到该目录")
@click.option("--limit", type=int, default=50, help="用于 runs：最多列出多少条")
@click.option("--use-labelled-genre", is_flag=True,
              help="用于 review：把数据集标注的体裁交给审核（默认与用户一样自动识别体裁）")
@click.option("--retrieval/--no-retrieval", "with_retrieval", default=None,
              help="用于 qa：只评测有检索（--retrieval）或无检索（--no-retrieval）；默认两者都评测，同 --mode")
@click.option("--sample", "sample_size", type=click.IntRange(min=1), metavar="N",
              help="用于 qa、chat：随机抽取 N 题评测（内置模型较慢时用），配合 --seed 可复现")
@click.option("--seed", type=int, default=0, show_default=True, help="用于 qa、chat：--sample 的随机种子")
def evaluate(suite: str, run_ids: tuple[str, ...], dataset: str | None, mode: tuple[str, ...], clearance: int, as_json: bool,
             save: bool, report_dir: str | None, limit: int, use_labelled_genre: bool, with_retrieval: bool | None,
             sample_size: int | None, seed: int) -> int:
    """Run an evaluation suite (optionally saved and reported), list stored runs, or compare two of them."""
    from eval.runs import new_run, save_run, settings_config

    if suite == "runs":
        return _runs(limit, as_json)
    if suite == "compare":
        return _compare(run_ids, report_dir, as_json)
    if not dataset:
        return error(f"评测 {suite} 需要 --dataset 数据集路径", 2)
    allowed = _MODES.get(suite, ())
    if any(m not in allowed for m in mode):
        return error(f"{suite} 的 --mode 只能取：{' '.join(allowed) or '（无）'}", 2)
    if use_labelled_genre and suite != "review":
        return error("--use-labelled-genre 只用于 review 评测", 2)
    if suite != "qa" and with_retrieval is not None:
        return error("--retrieval/--no-retrieval 只用于 qa 评测", 2)
    if suite not in ("qa", "chat") and sample_size is not None:
        return error("--sample 只用于 qa 和 chat 评测", 2)
    if with_retrieval is not None and mode:
        return error("--retrieval/--no-retrieval 与 --mode 只能用一个", 2)
    modes = list(mode or _DEFAULT_MODES.get(suite, ()))
    if with_retrieval is not None:
        modes = ["retrieval" if with_retrieval else "closed"]
    settings = current_settings()
    try:
        if suite == "review":
            outcome = _review(settings, dataset, modes, clearance, use_labelled_genre)
        elif suite == "qa":
            outcome = _qa(settings, dataset, modes, clearance, sample_size, seed)
        elif suite == "chat":
            outcome = _chat(settings, dataset, clearance, sample_size, seed)
        elif suite == "generation":
            outcome = _generation(settings, dataset, modes)
        else:
            outcome = _search(settings, suite, dataset, modes, clearance), None
    except ValueError as exc:
        return error(f"错误：{exc}")
    if isinstance(outcome, int):
        return outcome
    report, model = outcome
    run_id = None
    if save or report_dir:
        con = connect(settings.db_path)
        config = settings_config(settings, suite, con)
        if "sample" in report:
            config["sample"] = {"size": report["n"], **report["sample"]}
        run = new_run(suite, report, Path(dataset), config, model)
        if save:
            run_id = save_run(con, run)
        if report_dir:
            from eval.report import write_report

            for path in write_report(run, Path(report_dir)):
                click.echo(f"已写入 {path}", err=True)
    if as_json:
        print_json({**report, "run_id": run_id} if run_id else report)
    else:
        _print_report(suite, report, dataset)
        if run_id:
            click.echo(f"评测记录已保存：{run_id}")
    return 0


@click.command(cls=_PassThrough, add_help_option=False, help="性能基准测试（参数原样交给 eval.bench）")
def bench(argv: list[str]) -> int:
    """Run ``eval.bench`` with the remaining arguments as given."""
    try:
        from eval.bench import main as bench_main
    except ImportError as exc:
        return error(f"基准测试模块不可用：{exc}")
    try:
        return bench_main(argv)
    except SystemExit as exc:  # its argparse exits on --help and on usage errors
        return int(exc.code or 0)
