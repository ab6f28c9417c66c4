"""Product entry point. Until the Streamlit app lands, it prepares the knowledge base and serves chat Q&A in the terminal.

Run with ``python app.py``: ingests the default corpus when it is missing or changed (a no-op otherwise),
prints the knowledge-base status, starts the LLM backend (``COMPLY_LLM_URL``, else the embedded model),
then answers questions typed on standard input as a multi-turn chat (an empty line or EOF ends).
"""

from __future__ import annotations

import sys

from comply.cli import main as cli
from comply.config import load_settings
from comply.db import connect
from comply.llm.backend import open_backend
from comply.qa.answer import consume, stream_answer
from comply.qa.prompt import Turn


def chat() -> int:
    """A terminal chat over the knowledge base with streamed, verified answers."""
    settings = load_settings()
    con = connect(settings.db_path)
    history: list[Turn] = []
    with open_backend(settings) as backend:
        print(f"大模型：{backend.label}")
        while True:
            try:
                question = input("\n请输入合规问题（回车退出）：").strip()
            except EOFError:
                return 0
            if not question:
                return 0
            gen = stream_answer(settings, con, question, client=backend.client, no_llm_reason=backend.reason, user="terminal", history=history)
            answer = consume(gen, lambda piece: print(piece, end="", flush=True))
            if answer.mode == "llm":
                print(f"\n\n核验后：{answer.answer}")
            for c in answer.citations:
                print(f"[{c.n}] {c.doc_title or '（无此条款）'} {c.article or ''} {'✓' if c.verified else '✗ 已移除'}")
            history.append(Turn(question, answer.answer))


def main() -> int:
    """Build the knowledge base if needed, then run the terminal chat."""
    code = cli(["ingest"])
    if code not in (0, 1):
        return code
    cli(["status"])
    if not sys.stdin.isatty():
        return 0
    return chat()


if __name__ == "__main__":
    sys.exit(main())
