"""Benchmarks: ingest throughput, embedding backends, search latency at synthetic scale, review and LLM latency, and a LangChain peer baseline.

Nothing here asserts a timing; it measures and reports (JSON + a Markdown table describing the machine).
Scale-ups are synthetic (``synthetic``): real chunks replicated with light perturbation and real chunk vectors plus
small Gaussian noise. Modules: ``synthetic`` (data), ``baseline`` (LangChain), ``measures``, ``embed`` (torch vs
the ONNX Runtime exports), ``review_llm`` (the model
stage of review per 400-character draft), ``qa_latency`` (a chat answer's first token and full time), ``report`` (Markdown),
``timing`` (helpers) and ``command`` (``main``, which ``comply bench`` calls).
"""

from eval.bench.command import main

__all__ = ["main"]
