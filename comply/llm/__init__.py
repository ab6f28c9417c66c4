"""LLM access: one client for TGI and OpenAI-compatible servers, the embedded llama.cpp server, model assembly."""
