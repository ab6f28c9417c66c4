"""General marketing material: from a product brief to a reviewed draft in the channel's form."""

from __future__ import annotations

import hashlib
import re
from datetime import date

from assistant.generate.brief import CHANNEL_NAMES, Brief
from assistant.generate.channels import Copy, assemble, body_budget, template_copy
from assistant.generate.disclosures import Disclosures, facts_lines, load_disclosures, performance_lines
from assistant.generate.loop import Generated, Loop, Plan
from assistant.generate.prompt import copy_messages, fix_messages
from comply import audit
from comply.db import transaction


class GenerationRefused(ValueError):
    """Material that must not be produced (e.g. a private fund on a public channel), with the reason and its basis."""

    def __init__(self, message: str, legal_basis: list[str]) -> None:
        super().__init__(message)
        self.legal_basis = legal_basis


_RETURN_FIGURE = re.compile(r"(收益|回报|涨|盈利|年化|业绩|净值)[^，。；\n]{0,8}(\d|百分之)|\d+(\.\d+)?\s*[%％]")


def _fit(copy: Copy, brief: Brief, budget: int) -> Copy:
    """Short channels: the copy cut at a sentence end (else before a figure or word) so that it fits the budget."""
    if brief.channel not in ("sms", "moments") or len(copy.lead) <= budget:
        return copy
    cut = copy.lead[:budget]
    end = max(cut.rfind(d) for d in "。！？；，")
    if end <= 0:
        end = len(cut.rstrip("0123456789.%％")) - 1
    return copy.model_copy(update={"lead": cut[: end + 1]})


def _highlights(brief: Brief) -> tuple[Brief, list[str]]:
    """The brief without highlights that state returns (performance is shown only in the performance lines)."""
    kept = [h for h in brief.product.highlights if not _RETURN_FIGURE.search(h)]
    notes = [f"产品特点“{h}”含收益或业绩数字，未使用：业绩只能按规定在“业绩表现”中完整展示" for h in brief.product.highlights if h not in kept]
    return brief.model_copy(update={"product": brief.product.model_copy(update={"highlights": kept})}), notes


def marketing_plan(brief: Brief, disclosures: Disclosures, today: date) -> tuple[Plan, list[str]]:
    """The plan for one brief, and notes on what was left out (and why).

    Raises:
        GenerationRefused: the product may not be promoted on a public channel.
    """
    refusal = disclosures.refusal(brief.product)
    if refusal:
        raise GenerationRefused(*refusal)
    brief, notes = _highlights(brief)
    performance, left_out = performance_lines(brief.product, today) if brief.channel in ("poster", "wechat_article") else ([], [])
    notes += left_out
    if brief.product.performance and brief.channel in ("sms", "moments"):
        notes.append(f"{CHANNEL_NAMES[brief.channel]}篇幅有限，无法完整展示业绩及同期基准，不展示业绩")
    budget = body_budget(brief)
    if brief.channel in ("sms", "moments"):
        fixed = len(assemble(brief, Copy(), disclosures, []))
        if brief.length and fixed + 20 > brief.length:
            notes.append(f"必须包含的签名、产品名称和风险提示已有 {fixed} 字，超出设定的 {brief.length} 字")
        budget = max(20, budget - fixed)
    plan = Plan(
        ask=copy_messages(brief, budget),
        fix=lambda copy, problems: fix_messages(brief, copy, problems),
        template=lambda: template_copy(brief),
        render=lambda copy: assemble(brief, _fit(copy, brief, budget), disclosures, performance),
        allowed="\n".join([*facts_lines(brief), *brief.product.highlights]),
        max_tokens=min(2048, 256 + 2 * budget),
        names=tuple(n for n in (brief.product.name, brief.product.manager, brief.product.type, brief.product.benchmark) if n),
    )
    return plan, notes


def generate_marketing(
    loop: Loop, brief: Brief, *, user: str, clearance: int = 0, max_rounds: int = 3, today: date | None = None,
) -> Generated:
    """Draft, review and fix material for one brief; the final review and the generation are audited.

    Raises:
        GenerationRefused: the product may not be promoted on the brief's channel.
    """
    disclosures = load_disclosures(loop.reviewer.settings.disclosures_file)
    plan, notes = marketing_plan(brief, disclosures, today or date.today())
    result = loop.run(plan, clearance=clearance, user=user, max_rounds=max_rounds)
    result.notes = notes + result.notes
    if brief.channel == "sms" and not brief.institution:
        result.notes.append("短信签名未提供，发送前请把【机构简称】替换为本机构的短信签名")
    detail = {
        "brief_sha256": hashlib.sha256(brief.model_dump_json(by_alias=True).encode("utf-8")).hexdigest(),
        "product": brief.product.name, "channel": brief.channel, "mode": result.mode,
        "model": loop.client.model if result.mode == "llm" and loop.client else None,
        "rounds": result.rounds, "first_pass_clean": result.first_pass_clean, "findings": len(result.report.findings),
        "figures_removed": result.figures_removed, "text_sha256": hashlib.sha256(result.text.encode("utf-8")).hexdigest(),
        "review_seq": result.report.audit_seq,
    }
    with transaction(loop.reviewer.con):
        audit.append(loop.reviewer.con, user, "generate.marketing", brief.product.name, detail)
    return result
