"""The workspace: the DuckDB database and its schema, raw files kept by content, owner-only and
formula-safe output files."""
