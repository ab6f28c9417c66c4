"""``comply review`` and ``comply points``: reviewing marketing drafts, and a regulation's audit-point checklist."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.batch_lines import FAILED, batch_lines, report_error
from cli.common import LEVEL, LEVEL_NAMES, Command, current_settings, error, open_llm, print_json
from cli.remote import remote
from cli.review_library import with_library
from cli.review_train import train
from comply.db import connect

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cli.batch_lines import BatchLine
    from review.genre import Genre
    from review.pipeline import Reviewer, ReviewReport
    from service.client import ServiceClient


def _print_report(report: ReviewReport, source: str) -> None:
    from review.export import NO_BASIS, confidence_text, genre_label, learned_label, mode_label, rewrite_note_label, score_text, source_name

    click.echo(f"《{source}》审核结果（{mode_label(report)}）：{len(report.findings)} 个问题，用时 {report.total_s:.2f} 秒")
    if report.genre:
        click.echo(f"体裁：{genre_label(report)}")
    click.echo("环节：" + "；".join(s.label() for s in report.stages))
    click.echo(learned_label(report))
    if report.notice:
        click.echo(f"注意：{report.notice}")
    for n, f in enumerate(report.findings, start=1):
        basis = f.basis_text(NO_BASIS)
        score = f"，评分 {score_text(f.score)}" if f.score is not None else ""
        click.echo(f"\n{n}. [{f.category}·{f.severity}] “{f.span}”（{f.start}–{f.end}，{source_name(f.source)}{score}）\n"
                   f"   原因：{f.explanation}\n   依据：{basis}\n   建议：{f.suggestion}")
        for example in f.evidence:
            click.echo(f"   相似已判例句：“{example.text}”（相似度 {example.similarity:.2f}）")
        for case in f.cases:
            click.echo(f"   相似案例：{case.case_id} {case.title}")
    if report.hints:
        click.echo(f"\n待复核提示（大模型单独提出，未计入结论，共 {len(report.hints)} 条）：")
    for n, h in enumerate(report.hints, start=1):
        click.echo(f"{n}. [{h.category}] “{h.span}”（{h.start}–{h.end}，置信度 {confidence_text(h.confidence)}）\n"
                   f"   说明：{h.explanation}\n   原因：{h.why}")
    if report.rewrite:
        click.echo(f"\n改写稿（{report.rounds} 轮）：{rewrite_note_label(report)}\n{report.rewrite}")
    elif report.rewrite_note:
        click.echo(f"\n{rewrite_note_label(report)}")


@click.command(cls=Command, help="营销文案合规审核：问题片段、类别、依据条款、改写建议、相似案例\n\n"
                    "FILE：TXT / DOCX / PDF / 图片文件，- 表示从标准输入读取")
@click.argument("file", required=False)
@click.option("--drafts", help="批量：JSONL，每行 {\"id\", \"text\"}，每行输出一个 JSON；格式不对、为空或超长的行"
              "输出 {\"id\", \"line\", \"error\"} 并继续，有这样的行时退出码为 1")
@click.option("--clearance", type=LEVEL, default=0, help=f"审核人密级：{LEVEL_NAMES}（默认 公开）")
@click.option("--user", default="cli", help="记入审计日志的审核人")
@click.option("--no-llm", is_flag=True, help="只用规则审核")
@click.option("--genre", default="auto", help="文案体裁（默认 auto 自动识别）：fund_promo / brokerage_ad / advisory_service / "
              "wechat_post / poster / daily_commentary / holding_report")
@click.option("--json", "as_json", is_flag=True)
def review(file: str | None, drafts: str | None, clearance: int, user: str, no_llm: bool, genre: str, as_json: bool) -> int:
    """Review one draft (a file, or stdin for ``-``) or a JSONL batch (one JSON line out per draft)."""
    from review.draft import DraftError, draft_from_text
    from review.inputs import read_draft
    from review.pipeline import Reviewer

    if bool(file) == bool(drafts):
        return error("请给出一个文件（或 - 表示标准输入），或用 --drafts FILE.jsonl 批量审核", 2)
    from review.genre import AUTO, load_genres

    settings = current_settings()
    known = load_genres(settings.genres_file)
    if genre != AUTO and genre not in known:
        return error(f"未知的体裁“{genre}”，可选：{AUTO}、{'、'.join(known)}", 2)
    if drafts:
        if not Path(drafts).is_file():
            return error(f"找不到批量文件 {drafts}")
        lines = batch_lines(Path(drafts), "text")
    client = remote()
    if client is not None:
        ask = {"genre": genre, "no_llm": no_llm, "clearance": clearance, "user": user}
        if drafts:
            return _review_batch_through(client, lines, ask, as_json)
        return _review_through(client, file, ask, known, as_json)
    if not drafts:
        try:
            draft = (draft_from_text(sys.stdin.read(), settings.max_draft_chars) if file == "-"
                     else read_draft(Path(file).name, Path(file).read_bytes(), settings.max_file_mb))
        except DraftError as exc:
            return error(exc.message)
    con = connect(settings.db_path)
    with open_llm(settings, no_llm, as_json) as backend:
        reviewer = Reviewer(settings, con, backend.client, backend.reason)
        if drafts:
            return _review_batch(reviewer, lines, clearance, user, genre)
        try:
            report = reviewer.review(draft.text, clearance=clearance, user=user, genre=genre)
        except DraftError as exc:
            return error(exc.message)
    if as_json:
        print_json({**report.as_json(draft.source), "notice": report.notice, "rewrite": report.rewrite,
                    "rewrite_note": report.rewrite_note, "dropped": report.dropped})
    else:
        _print_report(report, draft.source)
    return 0


_JSON_KEYS = ("id", "mode", "genre", "learned_model", "notice", "stages", "findings", "hints", "rewrite", "rewrite_note", "dropped")


def _review_through(client: ServiceClient, file: str, ask: dict, genres: dict[str, Genre], as_json: bool) -> int:
    """Review one draft (a file, uploaded; stdin, as text) through the service and print it as a local review is."""
    from review.draft import PASTED, DraftError, draft_from_text

    started = time.monotonic()
    if file == "-":
        try:
            text = draft_from_text(sys.stdin.read(), current_settings().max_draft_chars).text
        except DraftError as exc:
            return error(exc.message)
        found = client.post("/v1/review", {"text": text, "source": PASTED, "rewrite": True} | ask)
    else:
        form = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in ask.items()} | {"rewrite": "true"}
        found = client.post("/v1/review/file", files={"file": (Path(file).name, Path(file).read_bytes())}, data=form)
    if as_json:
        print_json({k: found.get(k) for k in _JSON_KEYS})
    else:
        _print_report(_report_from_json(found, genres, ask["genre"], time.monotonic() - started), str(found["id"]))
    return 0


def _report_from_json(obj: dict, genres: dict[str, Genre], asked_genre: str, elapsed_s: float) -> ReviewReport:
    """The report the service sent as JSON, for printing (the time it took: the service's, else this call's)."""
    from review.examples import Example
    from review.findings import CaseRef, ClauseRef, Finding
    from review.gate import Hint
    from review.genre import AUTO
    from review.pipeline import ReviewReport
    from review.stages import Stage

    def clauses(items: list[dict]) -> list[ClauseRef]:
        return [ClauseRef(c["chunk_id"], c["doc_title"], c["article"], "", "", c.get("notice", "")) for c in items]

    findings = [Finding(f["span"], f["start"], f["end"], f["category"], f["severity"], f["explanation"], clauses(f["citations"]),
                        f["suggestion"], f["source"], cases=[CaseRef(c["case_id"], c["title"]) for c in f["cases"]],
                        unresolved=tuple(f["unverified_basis"]), score=f.get("score"),
                        evidence=tuple(Example(e["text"], e["category"], e["draft_id"], e["similarity"]) for e in f.get("evidence", [])))
                for f in obj["findings"]]
    hints = [Hint(h["span"], h["start"], h["end"], h["category"], h["explanation"], h["suggestion"], h["similarity"], h["confidence"],
                  h["why"], clauses(h["citations"])) for h in obj["hints"]]
    return ReviewReport(draft="", mode=obj["mode"], findings=findings, notice=obj["notice"], dropped=obj.get("dropped") or [],
                        rewrite=obj.get("rewrite"), rounds=obj.get("rounds", 0), total_s=obj.get("total_s", elapsed_s), hints=hints,
                        stages=[Stage(s["stage"], s["code"], s["reason"]) for s in obj["stages"]], genre=genres.get(obj["genre"] or ""),
                        genre_detected=obj.get("genre_detected", asked_genre == AUTO), learned_version=obj["learned_model"],
                        rewrite_note=obj.get("rewrite_note") or "")


def _review_batch_through(client: ServiceClient, lines: Iterable[BatchLine], ask: dict, as_json: bool) -> int:
    """Review a batch as a job of the service (progress on stderr unless ``--json``), then print one line per draft in
    the batch's order, as a local batch does."""
    lines = list(lines)
    good = [line for line in lines if not line.error]
    problems: dict[int, str] = {}
    results: dict[int, dict] = {}
    if good:
        job = client.post("/v1/jobs/review", {"drafts": [{"id": str(n), "text": line.text} for n, line in enumerate(good)]} | ask)
        for e in job.get("errors", []):
            problems[good[int(e["id"])].line] = e["error"]
        _wait_for(client, job["job_id"], as_json)
        offset: int | None = 0
        while offset is not None:
            page = client.get(f"/v1/jobs/{job['job_id']}/results", offset=offset, limit=100)
            for item in page["items"]:
                line = good[int(item["id"])]
                if item.get("error"):
                    problems[line.line] = item["error"]
                elif item.get("result") is not None:
                    results[line.line] = item["result"] | {"id": line.id}
            offset = page.get("next_offset") if page["items"] else None
    failed = False
    for line in lines:
        if line.line in results:
            print_json(results[line.line])
        else:
            report_error(line, line.error or problems.get(line.line, "服务没有返回这一篇的审核结果"))
            failed = True
    return FAILED if failed else 0


def _wait_for(client: ServiceClient, job_id: str, as_json: bool) -> None:
    """Until the job has finished, its progress on stderr (unless ``as_json``; in place in a terminal)."""
    tty, shown = sys.stderr.isatty(), ""
    while True:
        job = client.get(f"/v1/jobs/{job_id}")
        progress = f"审核进度：{job['done'] + job['failed']}/{job['total']}"
        if not as_json and progress != shown:
            click.echo(f"\r{progress}" if tty else progress, err=True, nl=not tty)
            shown = progress
        if job.get("finished_at"):
            if shown and tty:
                click.echo("", err=True)
            return
        time.sleep(0.5)


review = with_library(review)  # comply review library …, comply review train
review.add_command(train)


def _review_batch(reviewer: Reviewer, lines: Iterable[BatchLine], clearance: int, user: str, genre: str) -> int:
    """Review each line's draft, as pasted text is (normalised, capped); a bad line is reported and the batch goes on.

    Each output line records the stages that ran and why any did not (``stages``), and the model's hints apart."""
    from review.draft import DraftError, draft_from_text

    failed = False
    for line in lines:
        problem = line.error
        if not problem:
            try:
                draft = draft_from_text(line.text, reviewer.settings.max_draft_chars)
                print_json(reviewer.review(draft.text, clearance=clearance, user=user, rewrite=False, genre=genre).as_json(line.id))
                continue
            except DraftError as exc:
                problem = exc.message
        report_error(line, problem)
        failed = True
    return FAILED if failed else 0


@click.command(cls=Command, help="从一部法规中提取审核要点（义务与禁止），导出清单\n\nDOCUMENT：文档 id 或标题（可省略“中华人民共和国”）")
@click.argument("document")
@click.option("--clearance", type=LEVEL, default=0)
@click.option("--format", "fmt", type=click.Choice(("md", "csv", "docx")), default="md")
@click.option("--output", "-o", help="输出文件；md / csv 省略时打印到标准输出")
def points(document: str, clearance: int, fmt: str, output: str | None) -> int:
    """Export the audit points (obligations and prohibitions) of one regulation as Markdown, CSV or DOCX."""
    from retrieval.lookup import find_document
    from review.audit_points import extract_audit_points
    from review.audit_points_export import to_csv, to_docx, to_markdown

    settings = current_settings()
    con = connect(settings.db_path)
    try:
        _, title = find_document(con, document, clearance)
        found = extract_audit_points(con, document, clearance)
    except LookupError as exc:
        return error(str(exc))
    heading = f"《{title}》"
    if fmt == "docx":
        if not output:
            return error("DOCX 需要用 --output 指定文件", 2)
        Path(output).write_bytes(to_docx(found, heading))
    else:
        text = to_markdown(found, heading) if fmt == "md" else to_csv(found)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)
    if output:
        click.echo(f"已导出 {len(found)} 条审核要点到 {output}", err=True)
    return 0
