"""Sentence vectors from an ONNX export (``retrieval.onnx_export``) with ONNX Runtime on the CPU, tokenised by the
model folder's own fast tokenizer and truncated at the model's maximum length."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from retrieval.onnx_export import META_FILE


def available_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxEncoder:
    """Tokenise and run the exported graph; ``encode`` returns unit vectors (pooling and normalisation are in the graph)."""

    def __init__(self, onnx_file: Path, model_path: Path) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        meta = json.loads((onnx_file.parent / META_FILE).read_text(encoding="utf-8"))
        self.dim = int(meta["dim"])
        self.max_length = int(meta["max_length"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = available_cores()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Threads sleep rather than spin between ops: the LLM server and other requests share these cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.pad_id = int(self.tokenizer.pad_token_id or 0)

    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text (with the special tokens), truncated at the model's maximum length, unpadded."""
        return self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]

    def encode_ids(self, rows: list[list[int]]) -> np.ndarray:
        """Unit vectors for token-id rows run as one padded batch (segment ids 0, as for single sentences)."""
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {n: feeds[n] for n in self.inputs})[0]
