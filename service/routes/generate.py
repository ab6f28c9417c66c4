"""Marketing copy from a product brief, reviewed before it is returned (what ``comply generate --brief --json`` prints)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import Field

from assistant.generate.brief import Brief, Performance, Product
from assistant.generate.loop import Loop
from assistant.generate.marketing import GenerationRefused, generate_marketing
from service.auth import Caller, allowed
from service.resources import Resources

router = APIRouter(prefix="/v1", tags=["营销物料生成"])
_Line = Annotated[str, Field(min_length=1, max_length=500)]
_Short = Annotated[str, Field(max_length=200)]


class PerformanceBody(Performance):
    """One performance figure (a number is a percentage: 12.35 means 12.35%)."""

    period: str = Field(min_length=1, max_length=100)
    return_: float | _Short = Field(alias="return")
    benchmark_return: float | _Short | None = None
    source: _Short | None = None


class ProductBody(Product):
    """The product's facts; everything the copy may state comes from here."""

    name: str = Field(min_length=1, max_length=200, description="产品名称")
    type: str = Field(min_length=1, max_length=100, description="产品类型")
    risk_level: int = Field(description="风险等级 R1–R5")
    manager: _Short | None = None
    fees: _Short | None = None
    benchmark: _Short | None = None
    inception_date: str | None = Field(None, max_length=20)
    highlights: list[_Line] = Field(default_factory=list, max_length=20)
    performance: list[PerformanceBody] = Field(default_factory=list, max_length=20)


class GenerateRequest(Brief):
    """A marketing brief (as ``comply generate --brief`` reads it) and how to run the generation."""

    product: ProductBody
    audience: _Short | None = None
    institution: str | None = Field(None, max_length=100)
    rounds: int | None = Field(None, ge=1, le=10, description="生成—审核—修改的最多轮数（默认见配置 generate_rounds）")
    no_llm: bool = Field(False, description="不调用大模型，用模板生成")
    clearance: int | None = Field(None, ge=0, description="以低于本人的密级生成（不能高于令牌所属用户的密级）")
    user: str | None = Field(None, max_length=64, description="记入审计日志的生成人（仅本机命令行令牌可指定）")

    def brief(self) -> Brief:
        """The brief alone (so that its audited hash is the one the command line records for the same brief)."""
        return Brief.model_validate(self.model_dump(by_alias=True, include=set(Brief.model_fields)))


@router.post("/generate", summary="按产品资料生成营销物料（经合规审核）")
def generate(body: GenerateRequest, request: Request, caller: Caller = Depends(allowed("generate"))) -> dict:
    """``{"text", "review": {"findings"}, "rounds"}``: the copy after the generate → review → fix loop (a template when no
    model is used), its final review at the caller's clearance; both are audited. A product that may not be promoted on
    the channel gets 422 with the reason and its basis."""
    resources: Resources = request.app.state.service.resources
    clearance, user = caller.clearance(body.clearance), caller.actor(body.user)
    with resources.reviewer(with_llm=not body.no_llm) as reviewer:
        loop = Loop(reviewer, reviewer.client, reviewer.no_llm_reason)
        try:
            result = generate_marketing(loop, body.brief(), user=user, clearance=clearance,
                                        max_rounds=body.rounds or resources.settings.generate_rounds)
        except GenerationRefused as exc:
            raise HTTPException(status_code=422, detail=f"{exc}（依据：{'；'.join(exc.legal_basis)}）") from None
    return result.as_json()
