"""Contract end, legal holds, return export, purge and deletion certificates."""
