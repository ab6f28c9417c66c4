"""``comply review train``: train the learned review stage from the review library, audited, and make it current."""

from __future__ import annotations

import click

from cli.common import current_settings, error, print_json, print_table
from comply.db import connect


@click.command("train", help="训练审核学习模型：用审核样本库中的全部已标注文案（导入的数据集与审核人的采纳 / 驳回 / 漏报），"
                             "按文稿分组交叉验证选定各类别门槛；训练结果存入数据目录并立即启用，记入审计日志")
@click.option("--if-stale", is_flag=True, help="当前模型正是用同一样本库、同一向量模型和同样设置训练的，则不重新训练")
@click.option("--target-precision", type=click.FloatRange(0.5, 0.99), default=0.9, show_default=True,
              help="各类别门槛：交叉验证中被标出的句子至少达到此精确率")
@click.option("--user", default="cli", help="记入审计日志的操作人")
@click.option("--json", "as_json", is_flag=True)
def train(if_stale: bool, target_precision: float, user: str, as_json: bool) -> int:
    """Train (or keep) the learned stage's model and print its cross-validated scores."""
    from review.rules import load_default_rules
    from review.training import TrainSettings, train_from_library

    settings = current_settings()
    rules = load_default_rules(settings)
    con = connect(settings.db_path)
    try:
        outcome = train_from_library(con, settings, user, TrainSettings(target_precision=target_precision), if_stale,
                                     doubt=lambda text, start, end: rules.claim_span(text, start, end) is None)
    except ValueError as exc:
        return error(str(exc))
    meta = outcome.meta
    if as_json:
        print_json({"version": outcome.version, "trained": outcome.trained, **{k: meta[k] for k in ("drafts", "passages", "cv", "cv_clean_drafts_flagged")}})
        return 0
    click.echo(f"{'已训练' if outcome.trained else '样本库未变，沿用'}学习模型 {outcome.version}：{meta['drafts']} 篇文案、{meta['passages']} 个句段")
    print_table(("类别", "门槛", "精确率", "召回率", "F1", "正例"),
                [(c, "停用" if s["threshold"] > 1 else f"{s['threshold']:.2f}", s["precision"], s["recall"], s["f1"], s["positives"])
                 for c, s in meta["cv"].items()], right=("门槛", "精确率", "召回率", "F1", "正例"))
    clean = meta["cv_clean_drafts_flagged"]
    click.echo(f"交叉验证：无问题文案被标出 {clean['flagged']}/{clean['clean']} 篇（只含学习模型，不含规则）")
    return 0
