"""LLM client (TGI / OpenAI-compatible), chat Q&A with verified citations and draft review (issues 3 and 4)."""
