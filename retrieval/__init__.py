"""The index format and search: embedding, FAISS dense index (GPU or CPU), BM25 over jieba tokens, fusion,
the clearance prefix, provision lookup, case search and clause↔case links."""
