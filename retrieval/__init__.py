"""Retrieval: FAISS dense index (GPU or CPU), BM25 over jieba tokens, fusion, clearance, direct lookup."""
