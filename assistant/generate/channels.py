"""Channel forms: what the model writes for each channel, the template used without a model, and the assembly.

The model writes only the selling copy (``Copy``); the facts, performance lines and disclosures are inserted
by code, so they are exact whatever the model does.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from assistant.generate.brief import Brief
from assistant.generate.disclosures import Disclosures, facts_lines

SMS_SIGNATURE_PLACEHOLDER = "机构简称"


class Section(BaseModel):
    """One section of an article."""

    heading: str
    body: str


class Copy(BaseModel):
    """The selling copy of one draft: a title, a subtitle or lead, selling points and sections (as the channel uses them)."""

    title: str = ""
    lead: str = ""
    points: list[str] = Field(default_factory=list)
    sections: list[Section] = Field(default_factory=list)

    def texts(self) -> list[str]:
        """Every piece of text the model wrote."""
        return [self.title, self.lead, *self.points, *(s.heading for s in self.sections), *(s.body for s in self.sections)]


@dataclass(frozen=True)
class ChannelSpec:
    """A channel's default length and the form the model is asked for."""

    default_length: int
    instructions: str


CHANNELS: dict[str, ChannelSpec] = {
    "poster": ChannelSpec(
        150,
        "海报文案：title 为主标题（不超过十六个字），lead 为副标题（不超过二十四个字），points 为三条卖点（每条不超过三十个字）；sections 留空。",
    ),
    "wechat_article": ChannelSpec(
        1000,
        "公众号文章：title 为文章标题，lead 为导语（一段），sections 为三到四个小节（heading 为小标题，body 为该节正文）；points 留空。",
    ),
    "sms": ChannelSpec(120, "短信：只写 lead（一两句话，不要称呼、不要签名、不要退订说明）；其余字段留空。"),
    "moments": ChannelSpec(150, "朋友圈文案：只写 lead（两三句话，语气亲切、克制，可以有换行）；其余字段留空。"),
}


def body_budget(brief: Brief) -> int:
    """How many characters the model's copy may use."""
    return brief.length or CHANNELS[brief.channel].default_length


def template_copy(brief: Brief) -> Copy:
    """The copy written from the facts alone, without a model."""
    p = brief.product
    by = f"由{p.manager}管理的" if p.manager else ""
    points = list(p.highlights[:3])
    if brief.channel == "poster":
        return Copy(title=p.name, lead=f"{by}{p.type}", points=points or [f"{p.type}，风险等级 R{p.risk_level}"])
    if brief.channel == "wechat_article":
        sections = [Section(heading="产品特点", body="\n".join(f"- {h}" for h in p.highlights))] if p.highlights else []
        sections.append(Section(heading="投资者须知", body="购买前请完成风险承受能力评估，根据评估结果选择与自身风险承受能力相匹配的产品。"))
        return Copy(title=f"认识{p.name}", lead=f"{p.name}是{by}{p.type}产品。", sections=sections)
    first = f"，{p.highlights[0]}" if p.highlights else ""
    return Copy(lead=f"{p.name}{first}。详情请咨询您的客户经理。")


def assemble(brief: Brief, copy: Copy, disclosures: Disclosures, performance: list[str]) -> str:
    """The draft in the channel's form: the model's copy plus the facts, performance and disclosures code renders."""
    facts = facts_lines(brief)
    full = disclosures.full_for(brief.product)
    if brief.channel == "poster":
        parts = [f"{copy.title}\n{copy.lead}".strip(), "\n".join(f"• {point}" for point in copy.points),
                 "产品要素\n" + "\n".join(facts)]
        if performance:
            parts.append("业绩表现\n" + "\n".join(performance) + "\n" + disclosures.performance_note)
        parts.append("风险提示\n" + "".join(full))
        return "\n\n".join(p for p in parts if p)
    if brief.channel == "wechat_article":
        parts = [f"# {copy.title}", copy.lead, *(f"## {s.heading}\n{s.body}" for s in copy.sections),
                 "## 产品要素\n" + "\n".join(f"- {f}" for f in facts)]
        if performance:
            parts.append("## 业绩表现\n" + "\n".join(f"- {line}" for line in performance) + "\n\n" + disclosures.performance_note)
        parts.append("## 风险提示\n" + "\n".join(full))
        return "\n\n".join(p for p in parts if p.strip())
    risk = f"（{brief.product.type}，风险等级R{brief.product.risk_level}）"
    if brief.channel == "sms":
        signature = brief.institution or SMS_SIGNATURE_PLACEHOLDER
        body = copy.lead if brief.product.name in copy.lead else f"{brief.product.name}：{copy.lead}"
        return f"【{signature}】{body}{risk}{disclosures.short}{disclosures.sms_opt_out}"
    return f"{copy.lead}\n\n{brief.product.name}{risk}\n{disclosures.short}"
