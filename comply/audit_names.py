"""Chinese names for the audit log's action codes and detail fields, and a detail written as readable text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from comply.text import EMPTY, beijing_time

LIST_SHOWN = 5  # a longer list shows its first items and its length

ACTION_NAMES: dict[str, str] = {
    "auth.ok": "登录成功",
    "auth.fail": "登录失败",
    "auth.failed_burst": "集中登录失败",
    "user.create": "创建用户",
    "user.update": "修改用户",
    "user.password": "设置密码",
    "user.unlock": "解除锁定",
    "user.oidc": "关联单点登录",
    "qa.ask": "合规问答",
    "review.draft": "文案审核",
    "review.decision": "审核结论复核",
    "review.train": "训练审核模型",
    "review.library.import": "导入审核样本库",
    "review.gate_calibrate": "校准审核阈值",
    "generate.marketing": "生成营销物料",
    "generate.personal": "生成客户个性化内容",
    "generate.batch_start": "批量生成开始",
    "generate.batch_done": "批量生成完成",
    "clients.import": "导入客户",
    "holdings.import": "导入持仓",
    "market.import": "导入行情",
    "consent.grant": "登记客户授权",
    "consent.revoke": "撤回客户授权",
    "client.purge": "清除客户数据",
    "doc.add": "新增文档",
    "doc.replace": "更新文档",
    "doc.hold": "文档进入待审",
    "doc.approve": "批准文档",
    "doc.reject": "驳回文档",
    "doc.delete": "删除文档",
    "doc.level": "调整文档密级",
    "doc.metadata": "修改文档信息",
    "case.add": "新增案例",
    "case.replace": "更新案例",
    "case.level": "调整案例密级",
    "index.swap": "切换索引版本",
    "index.rebuild": "重建索引",
    "kb.tune_embedder": "微调向量模型",
    "token.create": "创建接口令牌",
    "token.revoke": "吊销接口令牌",
    "api.call": "接口调用",
    "job.submit": "提交批量任务",
    "job.done": "批量任务完成",
}

KEY_NAMES: dict[str, str] = {
    "level": "密级", "clearance": "权限密级", "from": "原值", "to": "新值", "reason": "原因", "method": "方式",
    "source": "来源", "role": "角色", "display_name": "显示名", "disabled": "停用", "self": "本人操作",
    "rehashed": "密码哈希已升级", "failures_cleared": "清除的失败次数", "email": "邮箱", "until": "锁定至",
    "first_in_window": "窗口内首次", "unknown_user": "未知用户次数", "refused": "拒绝次数",
    "first_audited_singly": "首次已单独记录", "window_start": "窗口开始", "window_end": "窗口结束",
    "doc_key": "文档", "title": "标题", "hash": "内容哈希", "chunks": "条款数", "cases": "案例数", "flags": "命中项",
    "rule": "规则", "match": "命中文本", "offset": "位置", "replaces": "替换", "documents": "文档数",
    "client_id": "客户编号", "purpose": "用途", "consent_id": "授权编号", "document_sha256": "授权书哈希",
    "granted_at": "授权时间", "holdings": "持仓条数", "generation_items": "生成条目数", "sha256": "文件哈希",
    "file": "文件", "rows": "行数", "skipped_purged": "跳过（已清除客户）", "kind": "类型", "market_date": "行情日期",
    "pending": "待生成", "counts": "计数", "version": "版本", "settings": "参数", "drafts": "文案数",
    "passages": "段落数", "file_sha256": "文件哈希", "added": "新增", "duplicates": "重复", "labels": "标注数",
    "reviewer": "复核人", "decision": "结论", "category": "类别", "start": "起始位置", "end": "结束位置",
    "text_sha256": "文本哈希", "draft_sha256": "文案哈希", "chars": "字数", "finding_source": "问题来源",
    "rule_id": "规则编号", "genre": "文体", "stages": "环节", "gate": "阈值", "findings": "问题数",
    "by_category": "按类别", "hints": "提示数", "dropped": "剔除数", "rewrite_rounds": "改写轮数", "rounds": "轮数",
    "total_s": "耗时（秒）", "ttft_s": "首字耗时（秒）", "mode": "模式", "model": "模型", "learned_model": "学习模型",
    "question_sha256": "问题哈希", "question_chars": "问题字数", "query_sha256": "检索语句哈希",
    "answer_sha256": "回答哈希", "answer_chars": "回答字数", "retrieved": "检索条款", "citations": "引用",
    "chunk_id": "条款编号", "verified": "已核验", "product": "产品", "channel": "渠道", "brief_sha256": "需求哈希",
    "first_pass_clean": "首轮即通过", "figures_removed": "删除的数字", "review_seq": "审核记录序号",
    "dataset": "数据集", "dataset_sha256": "数据集哈希", "target_precision": "目标精确率",
    "clause_threshold": "条款阈值", "precision_at_threshold": "阈值处精确率", "data_sha256": "数据哈希",
    "base_model": "基础模型", "base_model_sha256": "基础模型哈希", "pairs": "样本对数", "validation": "验证",
    "floors": "相关度下限", "reused": "沿用已有", "activated": "已启用", "library_sha256": "样本库哈希",
    "embed_key": "向量模型", "cv": "交叉验证", "cv_clean_drafts_flagged": "交叉验证误报文案数",
    "user": "用户", "name": "名称", "expires_at": "到期时间", "token": "令牌", "token_id": "令牌编号", "path": "接口", "status": "状态码",
    "job_id": "任务编号", "items": "条目数", "errors": "出错条目数", "done": "完成条目数",
}

VALUE_NAMES: dict[tuple[str, str], str] = {
    ("reason", "ok"): "成功", ("reason", "invalid"): "用户名或密码错误", ("reason", "disabled"): "账户已停用",
    ("reason", "locked"): "账户已锁定", ("reason", "unknown_user"): "用户不存在",
    ("reason", "oidc_unlinked"): "单点登录账户未关联", ("method", "oidc"): "单点登录",
}

_HEX_DIGEST = re.compile(r"[0-9a-f]{40,}")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def action_name(code: str) -> str:
    """The Chinese name of an action code; an unknown code is shown as it is."""
    return ACTION_NAMES.get(code, code)


def key_name(key: str) -> str:
    """The Chinese label of a detail field; an unknown field keeps its own name."""
    return KEY_NAMES.get(key, key)


Names = Mapping[tuple[str, str], str]  # (field, value) -> the value's Chinese name


def value_text(value: Any, key: str = "", names: Names | None = None) -> str:
    """One detail value, compact: dicts as ``名=值`` pairs, lists joined with 、, digests shortened, times in
    Beijing time, booleans as 是/否, coded values by their name (:data:`VALUE_NAMES`, then ``names``), and nothing
    (None, empty text or collection) as —."""
    if value is None or value in ("", [], {}):
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dict):
        return "，".join(f"{key_name(k)}={value_text(v, k, names)}" for k, v in value.items())
    if isinstance(value, list):
        items = [f"（{value_text(v, key, names)}）" if isinstance(v, dict) else value_text(v, key, names)
                 for v in value[:LIST_SHOWN]]
        return "、".join(items) + (f" 等 {len(value)} 项" if len(value) > LIST_SHOWN else "")
    text = str(value)
    if isinstance(value, str) and _HEX_DIGEST.fullmatch(text):
        return text[:12] + "…"
    if isinstance(value, str) and _ISO_TIME.match(text):
        return beijing_time(text)
    return VALUE_NAMES.get((key, text)) or (names or {}).get((key, text), text)


def detail_text(detail: dict, names: Names | None = None) -> str:
    """A detail as ``标签：值`` fields separated by ；, or — when it holds nothing (``names`` as in :func:`value_text`)."""
    return "；".join(f"{key_name(k)}：{value_text(v, k, names)}" for k, v in detail.items()) or EMPTY
