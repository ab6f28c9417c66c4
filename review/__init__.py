"""Draft review: inputs and OCR, rules as data, grounding, the LLM stage, verification, similar cases,
rewrites, review report export, audit points."""
