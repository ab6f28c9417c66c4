"""Chat Q&A over the knowledge base: grounded prompts, citation verification, audited answers."""
