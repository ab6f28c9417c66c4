"""The foundation: settings, database and migrations, the audit chain, security levels, the LLM client
and backends, law-text helpers and file readers. It imports no other package of this project."""
