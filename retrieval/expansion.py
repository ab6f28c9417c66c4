"""Query expansion: everyday words of compliance questions → the statutory vocabulary the provisions use.

Staff ask in colloquial terms (券商, 员工, 炒股, 群发短信, 小道消息) while the laws say 证券公司, 从业人员,
买卖股票, 商业性信息, 虚假信息; BM25 cannot bridge that and a small embedding model bridges it only
partly. Each entry maps colloquial cues (any of which occurs in the query as a substring) to statutory
terms that are added to the BM25 query. Entries are general domain vocabulary, not answers to particular
questions: an expansion term only helps a provision that actually uses it, and BM25 still weighs it by IDF.
"""

from __future__ import annotations

from functools import lru_cache

# cue words (any)  =>  statutory terms added to the BM25 query
_TABLE = """
券商 证券机构 => 证券公司
员工 职员 客户经理 营销人员 理财经理 销售人员 投顾 业务员 => 从业人员 工作人员
炒股 买股票 => 买卖股票 证券交易
父母 亲戚 家人 朋友 配偶 别人 => 他人名义 借用他人
代客 替客户 帮客户 => 接受客户委托 全权委托 代理
下单 => 买卖证券 委托
保本 稳赚 不亏 零风险 => 保本 无风险
兜底 补偿 => 赔偿 损失 承诺
分成 提成 => 分享 收益 分担 损失
小道消息 传言 谣言 => 虚假信息 误导性信息 传言
转发 散布 扩散 => 传播
重组 并购 => 重大事件 内幕信息
内部消息 内幕消息 => 内幕信息 知情人
透露 => 泄露
短信 群发 推送 电话推销 => 商业性信息 发送
照片 头像 肖像 => 形象
名字 姓名 => 名义
共享 转给 卖给 => 向他人提供 提供
定向发行 私募发行 => 非公开发行
登广告 打广告 投广告 => 广告 公开劝诱
拉客户 引流 拉新 => 客户招揽
好处 回扣 返佣 返点 => 不正当利益 报酬
贬低 拉踩 诋毁 抹黑 => 贬低 商业信誉
别家 同行 竞争对手 => 其他生产经营者 竞争对手
手机号 电话号码 身份证 住址 => 个人信息
客户名单 客户资料 客户信息 => 个人信息
朋友圈 短视频 直播 公众号 => 互联网 信息网络
荐股 推荐股票 => 投资建议 投资咨询
挪用 => 挪用 客户资金
老鼠仓 => 未公开信息 利用
坐庄 拉抬 砸盘 对倒 => 操纵证券市场 影响证券交易价格
配资 => 出借 证券账户 融资
飞单 => 私下 销售
开户 => 开立 账户
双录 录像 => 录音 记录
风险测评 风险评估 => 适当性 投资者
私募 => 非公开募集 合格投资者
大数据杀熟 => 自动化决策 交易价格
销户 => 注销 账户
爆雷 要倒闭 说坏话 造谣 => 商业信誉 商品声誉 虚假信息 误导性信息
资金来源 哪来的 不肯说 => 客户尽职调查 身份 拒绝
出租 出借 租用 卖卡 => 出租 出借 出售
银行卡 手机卡 => 银行账户 电话卡
网红 明星 代言 => 广告代言人 推荐 证明
训练营 培训班 课程 => 教育 培训
删掉 删除 => 删除 个人信息
第一次 初次 => 初次违法
轻微 马上改 及时改 => 危害后果轻微 及时改正 不予行政处罚
周转 => 挪用 交易结算资金
免责 不承担责任 与本公司无关 霸王条款 => 格式条款 免除 责任
没登记 未登记 没备案 未备案 => 登记 备案
不给开户 拒绝开户 => 拒绝提供 产品 服务
年报 财报 => 定期报告 信息披露
"""


@lru_cache(maxsize=1)
def _entries() -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
    out = []
    for line in _TABLE.strip().splitlines():
        cues, terms = line.split("=>")
        out.append((tuple(cues.split()), tuple(terms.split())))
    return tuple(out)


def expansion_terms(query: str) -> list[str]:
    """Statutory terms for the colloquial cues found in ``query`` (terms already in the query left out), in table order."""
    out: list[str] = []
    for cues, terms in _entries():
        if any(cue in query for cue in cues):
            out += [t for t in terms if t not in query and t not in out]
    return out
