"""Fencing data off from instructions in a prompt: what a clause, a draft, a question or client data holds
cannot pass for the prompt's own structure.

Prompts mark their sections with labels such as 【参考条款】 and 【文案】 and number clauses ``[1]``; a
document that contains such a label, a line starting with a clause number, or a chat-template token
(``<|im_start|>``) could otherwise open a section of its own (an injected 【问题】, a fake clause ``[2]``,
a fake system turn). :func:`fence` rewrites exactly those to look-alikes with no meaning to the prompt,
and leaves every other character as it is.
"""

from __future__ import annotations

import re

from comply.text import normalise_text

# The section labels of this project's prompts, and role names a model may take for a turn of the chat.
LABELS = (
    "参考条款", "问题", "文案", "文案结束", "类别", "已发现的问题", "对话历史", "追问", "资料", "资料结束",
    "原稿", "原稿结束", "审核发现的问题", "题目", "选项", "系统", "系统提示", "指令", "用户", "助手",
)
_LABEL = re.compile(rf"【\s*({'|'.join(sorted(map(re.escape, LABELS), key=len, reverse=True))})\s*】")
_CLAUSE_NUMBER = re.compile(r"^([ \t\u3000]*)[\[［【][ \t]*(\d{1,3})[ \t]*[\]］】]", re.MULTILINE)
_CHAT_TOKEN = re.compile(r"<\|([^<>|\n]{1,40})\|>")


def fence(text: str) -> str:
    """``text`` with the prompts' section labels (【问题】 → 〔问题〕), clause numbers at the start of a line
    (``[2]`` → 〔2〕) and chat-template tokens (``<|im_start|>`` → ‹|im_start|›) made inert; invisible characters
    are dropped first, so that ``【\u200b问题】`` is caught too."""
    text = _LABEL.sub(r"〔\1〕", normalise_text(text))
    text = _CLAUSE_NUMBER.sub(r"\1〔\2〕", text)
    return _CHAT_TOKEN.sub(r"‹|\1|›", text)
