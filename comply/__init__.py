"""Cross-cutting core of the compliance assistant: configuration, database, audit, CLI."""
