"""``comply serve``: the one process that owns the database, the indexes and the LLM backend, and its HTTP API."""
