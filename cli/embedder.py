"""``comply kb tune-embedder``: adapting the embedding model to the knowledge base."""

from __future__ import annotations

import click

from cli.common import Command, current_settings, error, print_json
from comply.db import connect


@click.command(cls=Command, name="tune-embedder",
               help="用知识库中挖掘的训练对（公开条文的章节标题、条文互引、案例所引条文、开发集问题）微调嵌入模型，"
                    "写入数据目录下的版本化模型并记入审计日志；需重建索引（comply reindex）后生效")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="训练轮数")
@click.option("--max-steps", type=click.IntRange(min=0), default=0, show_default=True, help="最多训练步数（0 = 不限）")
@click.option("--seed", type=int, default=42, show_default=True, help="随机种子（同样的数据和设置得到同名模型）")
@click.option("--include-dev/--no-include-dev", default=False, show_default=True,
              help="是否用开发集检索问题训练（用了它，开发集成绩就不再是评测）")
@click.option("--activate/--no-activate", default=False, show_default=True,
              help="训练后设为在用模型（重建索引后生效；先看验证成绩和等效相似度下限再决定）")
@click.option("--actor", default="cli", help="记入审计日志的操作人")
@click.option("--json", "as_json", is_flag=True)
def tune_embedder(epochs: int, max_steps: int, seed: int, include_dev: bool, activate: bool, actor: str, as_json: bool) -> int:
    """Fine-tune the embedder on mined pairs; print the model and its validation score."""
    from kb_ingest.embedder_tuning import TuneOptions, finish, plan_tuning, train_model

    settings = current_settings()
    options = TuneOptions(epochs=epochs, max_steps=max_steps, seed=seed, include_dev=include_dev)

    def progress(step: int, total: int, loss: float) -> None:
        click.echo(f"\r训练中 {step}/{total}  损失 {loss:.3f}", nl=False, err=True)

    con = connect(settings.db_path)
    try:
        plan = plan_tuning(settings, con, options)
    except ValueError as exc:
        return error(str(exc))
    con.close()  # training takes minutes and needs no database: other commands may use it meanwhile
    record, reused = train_model(settings, plan, None if as_json else progress)
    result = finish(settings, connect(settings.db_path), plan, record, reused, activate, actor)
    record = result.record
    if as_json:
        print_json({"name": result.name, "path": str(result.path), "reused": result.reused, "activated": result.activated,
                    "reindex_needed": result.activated, **record})
        return 0
    score = record["validation"]
    click.echo(f"\n{'已有相同数据和设置训练的模型，直接使用' if result.reused else '训练完成'}：{result.name}（{result.path}）")
    click.echo("训练对：" + "，".join(f"{k} {v}" for k, v in record["pairs"].items())
               + f"；训练数据 SHA-256 {record['data_sha256'][:16]}…")
    click.echo(f"留出验证（{record['validation_pairs']} 对，{len(record['validation_documents'])} 部文件）recall@5："
               f"原模型 {score['base']:.3f} → 微调后 {score['tuned']:.3f}")
    floors = "，".join(f"{k} {v}" for k, v in record["floors"].items())
    click.echo(f"微调改变了相似度的分布：与原模型 {settings.dense_floor}/{settings.case_dense_floor} 等效的相似度下限为 {floors}"
               "（重建索引后请相应设置 COMPLY_DENSE_FLOOR / COMPLY_CASE_DENSE_FLOOR）")
    if result.activated:
        click.echo("已设为在用嵌入模型。现有索引仍使用原模型，运行 comply reindex 重建索引后才会使用新模型。")
    else:
        click.echo("未设为在用模型；确认成绩后用 --activate 再运行一次即可启用（同样的数据和设置不会重新训练）。")
    return 0
