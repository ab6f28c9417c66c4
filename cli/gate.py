"""``comply gate``: calibrating, per model, the gate that keeps model-only review findings out of the verdict."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import Command, Group, current_settings, error, open_llm, print_json
from comply.config import PROJECT_ROOT
from comply.db import connect

MEASURES = PROJECT_ROOT / "eval" / "datasets" / "review_drafts_h12.jsonl"  # a first-run measure: never calibrated on


@click.group(cls=Group, help="大模型审核门槛：按模型在标注数据上校准，模型单独提出的问题据此计入结论或只作待复核提示")
def gate() -> None:
    """The ``gate`` command group."""


@gate.command(cls=Command, help="用开发用标注数据校准当前大模型的门槛（不能用评测集），结果写入数据目录并记入审计日志")
@click.option("--dataset", help="标注文案 JSONL（默认：随产品提供的开发数据 eval/datasets/review_drafts_extra.jsonl）")
@click.option("--sample", type=click.IntRange(min=0), default=0, help="均匀抽取的篇数（0 = 全部）")
@click.option("--output", help="写入的校准文件（默认：数据目录下 review_gate.json）")
@click.option("--json", "as_json", is_flag=True)
def calibrate(dataset: str | None, sample: int, output: str | None, as_json: bool) -> int:
    """Calibrate the configured model's gate and store it under the model's name."""
    from comply import audit
    from comply.db import transaction
    from eval.gate_calibration import CalibrationError, calibrate, check_dataset, describe, spread
    from eval.review import load_dataset
    from review.gate import save_calibration
    from review.pipeline import Reviewer

    settings = current_settings()
    path = Path(dataset) if dataset else settings.genre_examples
    try:
        everything = load_dataset(path)
        check_dataset(path, everything, [settings.taxonomy_file.parent, MEASURES])
        drafts = spread(everything, sample)
    except (CalibrationError, OSError, ValueError) as exc:
        return error(str(exc))
    con = connect(settings.db_path)
    with open_llm(settings, False, as_json) as backend:
        reviewer = Reviewer(settings, con, backend.client, backend.reason)
        try:
            result = calibrate(reviewer, path, drafts, settings.gate_precision,
                               None if as_json else lambda n, total: click.echo(f"\r校准中 {n}/{total}", nl=False, err=True))
        except CalibrationError as exc:
            return error(str(exc))
    target = Path(output) if output else settings.local_gate_file
    save_calibration(target, result)
    with transaction(con):
        audit.append(con, "cli", "review.gate_calibrate", result.model, {
            "dataset": result.dataset, "dataset_sha256": result.dataset_sha256, "drafts": result.drafts,
            "target_precision": result.target_precision, "clause_threshold": result.clause_threshold,
            "precision_at_threshold": result.precision_at_threshold, "file": str(target)})
    if as_json:
        print_json(result.as_json())
    else:
        names = {c.id: c.name_zh for c in reviewer.taxonomy.categories}
        click.echo(f"\n{describe(result, names)}\n已写入 {target}")
    return 0


@gate.command(cls=Command, help="列出已有的校准（随产品提供的和本机校准的）")
def show() -> int:
    """Print every known calibration."""
    from eval.gate_calibration import describe
    from review.gate import load_calibrations
    from review.taxonomy import load_taxonomy

    settings = current_settings()
    try:
        found = load_calibrations(settings.review_gate_file, settings.local_gate_file)
    except ValueError as exc:
        return error(str(exc))
    if not found:
        click.echo("没有任何校准：所有模型单独提出的问题都只作待复核提示")
        return 0
    names = {c.id: c.name_zh for c in load_taxonomy(settings.taxonomy_file).categories}
    click.echo("\n\n".join(describe(c, names) for c in found.values()))
    return 0
