"""Product entry point. Until the Streamlit app lands, it prepares the knowledge base and serves search in the terminal.

Run with ``python app.py``: ingests the default corpus when it is missing or changed (a no-op otherwise),
prints the knowledge-base status, then answers queries typed on standard input (an empty line or EOF ends).
"""

from __future__ import annotations

import sys

from comply.cli import main as cli


def main() -> int:
    """Build the knowledge base if needed, then run an interactive search loop."""
    code = cli(["ingest"])
    if code not in (0, 1):
        return code
    cli(["status"])
    if not sys.stdin.isatty():
        return 0
    while True:
        try:
            query = input("\n请输入检索问题（回车退出）：").strip()
        except EOFError:
            return 0
        if not query:
            return 0
        cli(["search", query, "-k", "5"])


if __name__ == "__main__":
    sys.exit(main())
